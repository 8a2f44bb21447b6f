// The measured constants the capacity model reads, and the check that a constants file has
// every one of them, each naming the run (recorded in the same file) it was measured in.
// `npm run bench` (its capacity section) writes capacity/constants.json; nothing here measures.

/** The operations whose Redis-side cost is measured, at each number of tokens per user. */
export const OPERATIONS = ['verify', 'touch', 'create', 'list', 'revoke', 'expireAll'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** The operations that write the user's hash (and so replicate, and invalidate caches). */
export const WRITE_OPERATIONS = ['touch', 'create', 'revoke', 'expireAll'] as const satisfies readonly Operation[];
export type WriteOperation = (typeof WRITE_OPERATIONS)[number];
/** Tokens per user at which each operation is measured. */
export const SIZES = [1, 10, 100] as const;
export type Size = (typeof SIZES)[number];
/** Per operation and size: Redis main-thread CPU, command time, and bytes in and out. */
export const OPERATION_METRICS = ['cpuUs', 'execUs', 'inBytes', 'outBytes'] as const;
/** Per write operation and size: replication stream bytes, and a replica's CPU to apply it. */
export const REPLICATION_METRICS = ['replBytes', 'replicaCpuUs'] as const;
/** The two hash encodings the memory model tells apart. */
export const ENCODINGS = ['listpack', 'hashtable'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Every constant the model reads, by name. */
export const CONSTANT_NAMES: readonly string[] = [
  ...OPERATIONS.flatMap((op) => SIZES.flatMap((size) => OPERATION_METRICS.map((metric) => `${op}.${size}.${metric}`))),
  ...WRITE_OPERATIONS.flatMap((op) => SIZES.flatMap((size) => REPLICATION_METRICS.map((metric) => `${op}.${size}.${metric}`))),
  'ping.cpuUs',
  'ping.inBytes',
  'ping.outBytes',
  'wire.verifyValueBytes',
  ...ENCODINGS.flatMap((encoding) => [`memory.${encoding}.perUserBytes`, `memory.${encoding}.perTokenBytes`, `memory.${encoding}.valueBytes`]),
  'memory.recordFixedBytes',
  'memory.lastUsedBytes',
  'memory.listpackValueMax',
  'memory.listpackEntriesMax',
  'memory.clusterKeyBytes',
  'csc.invalidationsPerWrite',
  'csc.invalidationBytes',
];

/** One measured constant. */
export interface Measured {
  value: number;
  unit: string;
  /** The id of the run, in the file's `runs`, that measured it. */
  run: string;
  /** How it was measured, in a few words. */
  how: string;
}

/** What a run was: enough to tell whether its figures still hold. */
export interface RunInfo {
  command: string;
  startedAt: string;
  seconds: number;
  /** `git describe --always --dirty` of the worktree measured. */
  commit: string;
  redis: string;
  node: string;
  cpus: number;
  /** 1, 5 and 15 minute load averages at the start and end of the run. */
  loadAverage: { start: number[]; end: number[] };
  /** Lengths from src/token.ts at the time: the token format the figures are for. */
  tokenFormat: { tagLength: number; secretLength: number; checksumLength: number; tokenIdLength: number };
}

/** The file `npm run bench` writes: constants, their runs, and what else the run showed. */
export interface ConstantsFile {
  schema: 1;
  runs: Record<string, RunInfo>;
  constants: Record<string, Measured>;
  /** Measurements that are not model inputs: slot spread, cluster, memory points. */
  evidence: Record<string, unknown>;
}

/** The model's view: a number per constant name. */
export type Constants = ReadonlyMap<string, Measured>;

/**
 * Reads a constants file, checking that it has every constant the model reads, each a finite
 * number naming a run the file records. Throws an Error listing what is missing or wrong.
 */
export function readConstants(json: unknown): { file: ConstantsFile; constants: Constants } {
  const problems: string[] = [];
  if (typeof json !== 'object' || json === null) throw new Error('the constants file is not a JSON object');
  const file = json as Partial<ConstantsFile>;
  if (file.schema !== 1) problems.push(`schema is ${String(file.schema)}, expected 1`);
  const runs = typeof file.runs === 'object' && file.runs !== null ? file.runs : {};
  const table = typeof file.constants === 'object' && file.constants !== null ? file.constants : {};
  const constants = new Map<string, Measured>();
  for (const name of CONSTANT_NAMES) {
    const entry = (table as Record<string, Partial<Measured> | undefined>)[name];
    if (entry === undefined) {
      problems.push(`${name} is missing`);
      continue;
    }
    if (typeof entry.value !== 'number' || !Number.isFinite(entry.value) || entry.value < 0) problems.push(`${name} has no finite value ≥ 0`);
    else if (typeof entry.run !== 'string' || !Object.hasOwn(runs, entry.run)) problems.push(`${name} names no run recorded in the file (${String(entry.run)})`);
    else if (typeof entry.unit !== 'string' || typeof entry.how !== 'string') problems.push(`${name} lacks its unit or how`);
    else constants.set(name, entry as Measured);
  }
  if (problems.length > 0) throw new Error(`the constants file is incomplete:\n  ${problems.join('\n  ')}`);
  return { file: file as ConstantsFile, constants };
}

/** The value of one constant; a name the file lacks is a programming error. */
export function valueOf(constants: Constants, name: string): number {
  const entry = constants.get(name);
  if (entry === undefined) throw new Error(`no constant ${name}`);
  return entry.value;
}
