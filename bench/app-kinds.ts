// The apps of the HTTP benchmark, shared by the parent (bench/http.ts) and the app process
// (bench/app.ts) without either loading the other.

/** The Express apps the HTTP benchmark compares. */
export const APP_KINDS = ['none', 'instant', 'ours', 'ours-csc', 'bearer', 'jwt', 'jwt-key'] as const;
export type AppKind = (typeof APP_KINDS)[number];

/** What an app sends its parent once it listens. */
export interface AppReady {
  port: number;
}
