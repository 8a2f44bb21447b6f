// The capacity command's arguments, pure: `--name value` or `--name=value`, each checked, with
// the defaults the plan states. A bad argument is an Error that names it and says what fits.
import type { Workload } from './model.js';

/** What the command was asked. */
export type CapacityCommand = { help: true } | { help: false; workload: Workload; json: boolean; constantsPath: string | undefined };

interface OptionSpec {
  key: keyof Workload | 'maxShardGb';
  /** Smallest allowed value (inclusive). */
  min: number;
  max: number;
  integer: boolean;
  help: string;
  /** Undefined: required. */
  fallback?: number | ((w: Partial<Record<string, number>>) => number);
}

const GB = 1e9;

/** The options, by flag. */
export const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  users: { key: 'users', min: 1, max: 1e11, integer: true, help: 'users holding tokens (required)' },
  devices: { key: 'devices', min: 1, max: 10_000, integer: false, help: 'live tokens per user, on average (required)' },
  'verify-rps': { key: 'verifyRps', min: 0, max: 1e9, integer: false, help: 'verifications per second at peak (required)' },
  'login-rps': { key: 'loginRps', min: 0, max: 1e8, integer: false, help: 'logins (createToken) per second at peak (required)' },
  'logout-rps': { key: 'logoutRps', min: 0, max: 1e8, integer: false, help: 'single-device logouts per second (default: the login rate)', fallback: (w) => w.loginRps ?? 0 },
  'list-rps': { key: 'listRps', min: 0, max: 1e8, integer: false, help: 'device lists per second (default 0)', fallback: 0 },
  replicas: { key: 'replicas', min: 0, max: 16, integer: true, help: 'replicas per shard (default 1)', fallback: 1 },
  'label-bytes': { key: 'labelBytes', min: 0, max: 1024, integer: true, help: 'bytes of a device label (default 24)', fallback: 24 },
  'user-id-bytes': { key: 'userIdBytes', min: 1, max: 256, integer: true, help: 'bytes of a user id (default 12)', fallback: 12 },
  'touch-fraction': { key: 'touchFraction', min: 0, max: 1, integer: false, help: 'share of verifications that write last-used (default 0.1)', fallback: 0.1 },
  'touch-interval': { key: 'touchIntervalSeconds', min: 1, max: 86400 * 365, integer: false, help: 'the repository\'s touchInterval, s (default 60)', fallback: 60 },
  fragmentation: { key: 'fragmentation', min: 1, max: 4, integer: false, help: 'RSS over used_memory to allow for (default 1.2)', fallback: 1.2 },
  cow: { key: 'copyOnWrite', min: 0, max: 1, integer: false, help: 'share of RSS a fork may copy on write (default 0.5)', fallback: 0.5 },
  'max-shard-gb': { key: 'maxShardGb', min: 0.001, max: 4096, integer: false, help: 'largest RSS per shard, GB (default 25)', fallback: 25 },
  'cpu-target': { key: 'cpuTarget', min: 0.01, max: 1, integer: false, help: 'CPU share of its core a shard may use (default 0.5)', fallback: 0.5 },
  'app-instances': { key: 'appInstances', min: 1, max: 1e6, integer: true, help: 'app instances, each with its own cache (default 20)', fallback: 20 },
  'cache-fence': { key: 'cacheFenceMs', min: 1, max: 3_600_000, integer: false, help: 'the repository\'s cacheFence, ms (default 100)', fallback: 100 },
};

/** The usage text. */
export function usage(): string {
  const lines = ['usage: npm run capacity -- --users N --devices N --verify-rps N --login-rps N [options]', ''];
  for (const [flag, spec] of Object.entries(OPTIONS)) lines.push(`  --${flag.padEnd(16)} ${spec.help}`);
  lines.push('  --json             print the plan as JSON', '  --constants PATH   read another constants file (default capacity/constants.json)', '  --help             this text', '', '  --render-doc       (alone) rewrite the generated part of CAPACITY.md from the committed JSON');
  return lines.join('\n');
}

function readNumber(flag: string, raw: string, spec: OptionSpec): number {
  // Digits with optional underscores or commas as thousands separators, a decimal part, an exponent.
  if (!/^[0-9][0-9_,]*(\.[0-9]+)?(e[+-]?[0-9]+)?$/i.test(raw)) throw new Error(`--${flag} must be a number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isFinite(value)) throw new Error(`--${flag} must be a finite number, got ${JSON.stringify(raw)}`);
  if (spec.integer && !Number.isInteger(value)) throw new Error(`--${flag} must be a whole number, got ${raw}`);
  if (value < spec.min || value > spec.max) throw new Error(`--${flag} must be between ${spec.min} and ${spec.max}, got ${raw}`);
  return value;
}

/** Parses the command's arguments (after `--`). */
export function parseCapacityArgs(argv: readonly string[]): CapacityCommand {
  const given: Partial<Record<string, number>> = {};
  let json = false;
  let constantsPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--json') {
      json = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}: options start with --`);
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (raw === undefined) {
      raw = argv[i + 1];
      if (raw === undefined || raw.startsWith('--')) throw new Error(`--${flag} needs a value`);
      i += 1;
    }
    if (flag === 'constants') {
      constantsPath = raw;
      continue;
    }
    const spec = OPTIONS[flag];
    if (spec === undefined || !Object.hasOwn(OPTIONS, flag)) throw new Error(`unknown option --${flag} (see --help)`);
    if (given[spec.key] !== undefined) throw new Error(`--${flag} is given twice`);
    given[spec.key] = readNumber(flag, raw, spec);
  }
  const missing = Object.entries(OPTIONS).filter(([, spec]) => spec.fallback === undefined && given[spec.key] === undefined);
  if (missing.length > 0) throw new Error(`missing ${missing.map(([flag]) => `--${flag}`).join(', ')} (see --help)`);
  const values: Partial<Record<string, number>> = { ...given };
  for (const spec of Object.values(OPTIONS)) {
    if (values[spec.key] !== undefined) continue;
    const fallback = spec.fallback!;
    values[spec.key] = typeof fallback === 'number' ? fallback : fallback(given);
  }
  const v = (key: OptionSpec['key']): number => values[key]!;
  const workload: Workload = {
    users: v('users'),
    devices: v('devices'),
    verifyRps: v('verifyRps'),
    loginRps: v('loginRps'),
    logoutRps: v('logoutRps'),
    listRps: v('listRps'),
    touchFraction: v('touchFraction'),
    touchIntervalSeconds: v('touchIntervalSeconds'),
    replicas: v('replicas'),
    labelBytes: v('labelBytes'),
    userIdBytes: v('userIdBytes'),
    fragmentation: v('fragmentation'),
    copyOnWrite: v('copyOnWrite'),
    maxShardBytes: v('maxShardGb') * GB,
    cpuTarget: v('cpuTarget'),
    appInstances: v('appInstances'),
    cacheFenceMs: v('cacheFenceMs'),
  };
  return { help: false, workload, json, constantsPath };
}
