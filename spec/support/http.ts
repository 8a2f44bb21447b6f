import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

/** What `listen` serves: an Express 4 or 5 app, a Koa app, anything with Node's `listen`. */
export interface Listenable {
  listen(port: number, host: string, callback: () => void): Server;
}

/** Serves `app` on a free loopback port. */
export function listen(app: Listenable): Promise<RunningApp> {
  return new Promise((resolve) => {
    const server: Server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** GET (or another method) with a bearer token or raw headers. */
export async function call(
  url: string,
  options: { method?: string; token?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; challenge: string | null; body: string; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (options.body !== undefined) init.body = options.body;
  if (options.signal !== undefined) init.signal = options.signal;
  const res = await fetch(url, init);
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text(), headers: res.headers };
}

/** GET with headers that may repeat (fetch would join them into one): each value is its own header line. */
export function callRepeated(url: string, headers: Record<string, string[]>): Promise<{ status: number; challenge: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => {
        const challenge = res.headers['www-authenticate'];
        resolve({ status: res.statusCode ?? 0, challenge: typeof challenge === 'string' ? challenge : null });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
