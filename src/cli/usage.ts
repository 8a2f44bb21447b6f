import { parseArgs } from 'node:util';
import { isValidKeyPrefix } from '../keys.js';
import { DEFAULT_KEY_PREFIX, DEFAULT_REDIS_URL, isRedisUrl, positiveSeconds } from '../options.js';
import { userIdProblem } from '../record.js';
import { isTokenId, TOKEN_ID_LENGTH } from '../token.js';

// The command line: what each command takes, its help text, and reading argv into one
// invocation. Every mistake is a UsageError (exit status 2), one line, naming what was wrong.

/** The name the tool is run by, in help and error lines. */
export const TOOL = 'passport-redis-multi-token';

/** The commands of the admin CLI. */
export type CommandName = 'list' | 'revoke' | 'revoke-all' | 'stats' | 'prune';

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  override name: string = 'UsageError';
}

/** The options every command shares, checked and with their defaults applied. */
export interface CommonOptions {
  /** The Redis URL: `--url`, else `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  url: string;
  /** The repository's `keyPrefix`. */
  prefix: string;
  /** Whether `--cluster` was given: treat the URL as a cluster seed without asking the server. */
  cluster: boolean;
  /** Print JSON on stdout instead of text. */
  json: boolean;
  /** Deadline in ms for connecting and for each Redis command. */
  timeoutMs: number;
  /** Idle timeout in ms to apply (`--idle-timeout`), or null for none. */
  idleMs: number | null;
}

/** What the command line asks for. */
export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'list'; userId: string; options: CommonOptions }
  | { kind: 'revoke'; userId: string; tokenId: string; options: CommonOptions }
  | { kind: 'revoke-all'; userId: string; options: CommonOptions }
  | { kind: 'stats'; options: CommonOptions }
  | { kind: 'prune'; options: CommonOptions };

/** Default of `--timeout`, in ms. */
export const DEFAULT_TIMEOUT_MS = 3000;

interface CommandSpec {
  readonly operands: readonly string[];
  readonly idle: boolean;
  readonly summary: string;
  readonly description: string;
}

const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  list: {
    operands: ['userId'],
    idle: true,
    summary: "The user's live tokens: id, device, scopes, created, last used, expires",
    description:
      'Lists the live tokens of one user, newest first: public id, device, scopes, when it was\n' +
      'created, last used and when it expires. It never prints a token: the ids it shows are\n' +
      'public and grant nothing. Read-only: it removes nothing, and --idle-timeout only hides\n' +
      'idle tokens. It knows no pepper, so tokens of a dropped pepper still show until the app\n' +
      'next writes to the user\'s hash. Characters a terminal would act on are shown escaped.',
  },
  revoke: {
    operands: ['userId', 'tokenId'],
    idle: false,
    summary: 'Revoke one token of a user, by its public id (from list)',
    description:
      'Revokes one token of a user by its public id, as `list` shows it. The token must belong\n' +
      'to that user. Exits with status 1 when the user has no live token with that id, naming\n' +
      'the prefix and the URL it looked under.',
  },
  'revoke-all': {
    operands: ['userId'],
    idle: false,
    summary: 'Revoke every token of a user ("log out everywhere")',
    description:
      'Revokes every token of one user and prints how many were live. Exits with status 1 when\n' +
      'the user has none, naming the prefix and the URL it looked under: a wrong --prefix, URL\n' +
      'or database finds nothing, and the tokens would still work.',
  },
  stats: {
    operands: [],
    idle: true,
    summary: 'Count hashes, users, tokens by time left, and memory (SCAN)',
    description:
      'Walks every hash under the prefix with SCAN (on a cluster, on every master) and prints\n' +
      'how many hashes, users and live tokens there are, live tokens by time left (<1h, <1d,\n' +
      '<7d, <30d, longer, never), dead tokens not yet pruned, and the memory of those hashes\n' +
      '(MEMORY USAGE). Each bucket holds the tokens with at least the previous bucket\'s time\n' +
      'left. Read-only, but it reads every hash: on a large dataset, run it off-peak.',
  },
  prune: {
    operands: [],
    idle: true,
    summary: 'Remove expired tokens and report how many (SCAN)',
    description:
      'Walks every hash under the prefix with SCAN (on a cluster, on every master) and drops\n' +
      'the tokens whose end of life has passed on the server\'s clock, one atomic script per\n' +
      'hash. Redis expires a hash whose tokens are all dead by itself; prune clears dead tokens\n' +
      'that share a hash with live ones, and with --idle-timeout the idle ones.',
  },
};

const COMMON_HELP = `Options:
  --url <url>               Redis URL (default: REDIS_URL, else ${DEFAULT_REDIS_URL})
  --prefix <prefix>         The repository's keyPrefix (default: ${DEFAULT_KEY_PREFIX})
  --cluster                 Treat --url as a cluster seed node (default: detected with INFO cluster)
  --timeout <ms>            Deadline for connecting and for each Redis command (default: ${DEFAULT_TIMEOUT_MS})
  --json                    Print machine-readable JSON on stdout
  -h, --help                Show this help`;

const IDLE_HELP = `  --idle-timeout <seconds>  Treat tokens unused for this long as dead, like a repository with that
                            idleTimeout (default: none; give the app's own idleTimeout)`;

/** The help of the whole tool. */
export function toolHelp(): string {
  const width = Math.max(...Object.entries(COMMANDS).map(([name, spec]) => usageLine(name, spec).length));
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${usageLine(name, spec).padEnd(width)}  ${spec.summary}`);
  return `Usage: ${TOOL} <command> [options]

Administers the tokens that passport-redis-multi-token keeps in Redis (storage layout v2).

Commands:
${lines.join('\n')}
  ${'help [command]'.padEnd(width)}  Show the help of a command

${COMMON_HELP}
  -v, --version             Show the version
  --idle-timeout <seconds>  list, stats and prune: see their help

Run '${TOOL} <command> --help' for the help of one command.
Exit status: 0 on success, 1 when an operation failed (Redis unreachable or too slow, no
such token, nothing to revoke), 2 on bad usage.
`;
}

function usageLine(name: string, spec: CommandSpec): string {
  return [name, ...spec.operands.map((operand) => `<${operand}>`)].join(' ');
}

/** The help of one command. */
export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name];
  return `Usage: ${TOOL} ${usageLine(name, spec)} [options]

${spec.description}

${COMMON_HELP}${spec.idle ? `\n${IDLE_HELP}` : ''}
`;
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

const PARSE_OPTIONS = {
  url: { type: 'string' },
  prefix: { type: 'string' },
  cluster: { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  'idle-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;


// A token id may start with '-' (base64url), which parseArgs would read as an option: such an
// argument is held aside under a placeholder and put back among the positionals.
const HELD = '\u0000held:';

function parse(argv: readonly string[]) {
  const held: string[] = [];
  const args = argv.map((arg) => {
    if (!arg.startsWith('-') || !isTokenId(arg) || arg.startsWith('--')) return arg;
    held.push(arg);
    return `${HELD}${held.length - 1}`;
  });
  try {
    const parsed = parseArgs({ args, options: PARSE_OPTIONS, allowPositionals: true, strict: true });
    parsed.positionals = parsed.positionals.map((arg) => (arg.startsWith(HELD) ? held[Number(arg.slice(HELD.length))]! : arg));
    return parsed;
  } catch (err) {
    // parseArgs names the option in its message, over several lines: make them one.
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' '));
  }
}

function readTimeout(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError('--timeout must be a positive whole number of milliseconds');
  }
  return value;
}

function readIdle(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  try {
    return positiveSeconds('--idle-timeout', raw.trim() === '' ? NaN : Number(raw), false);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function readUrl(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag !== undefined) {
    if (!isRedisUrl(flag)) throw new UsageError('--url must be a redis:// or rediss:// URL');
    return flag;
  }
  const fromEnv = env.REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isRedisUrl(fromEnv)) throw new UsageError('REDIS_URL must be a redis:// or rediss:// URL');
    return fromEnv;
  }
  return DEFAULT_REDIS_URL;
}

/**
 * Reads the command line (without `node` and the script) into one invocation, or throws a
 * {@link UsageError}. Options may come before or after the command.
 */
export function readInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Invocation {
  const { values, positionals } = parse(argv);
  const [name, ...operands] = positionals;

  if (name === 'help') {
    const topic = operands[0];
    if (topic === undefined) return { kind: 'help', text: toolHelp() };
    if (!isCommand(topic) || operands.length > 1) throw new UsageError(`help takes one command name, such as 'help list'`);
    return { kind: 'help', text: commandHelp(topic) };
  }
  if (name !== undefined && !isCommand(name)) throw new UsageError(`unknown command '${name}' (see --help)`);
  if (values.help === true) return { kind: 'help', text: name === undefined ? toolHelp() : commandHelp(name) };
  if (values.version === true) return { kind: 'version' };
  if (name === undefined) throw new UsageError('missing command (see --help)');

  const spec = COMMANDS[name];
  if (operands.length !== spec.operands.length) {
    const expected = spec.operands.length === 0 ? 'no arguments' : spec.operands.map((operand) => `<${operand}>`).join(' ');
    throw new UsageError(`${name} takes ${expected} (see '${name} --help')`);
  }
  if (!spec.idle && values['idle-timeout'] !== undefined) {
    throw new UsageError(`--idle-timeout applies to list, stats and prune, not ${name}`);
  }
  const prefix = values.prefix ?? DEFAULT_KEY_PREFIX;
  if (!isValidKeyPrefix(prefix)) throw new UsageError('--prefix must not contain { or }');
  const options: CommonOptions = {
    url: readUrl(values.url, env),
    prefix,
    cluster: values.cluster === true,
    json: values.json === true,
    timeoutMs: readTimeout(values.timeout),
    idleMs: readIdle(values['idle-timeout']),
  };

  const [userId, tokenId] = operands;
  const problem = userId === undefined ? null : userIdProblem(userId);
  if (problem !== null) throw new UsageError(`userId ${problem}: a user id is non-empty, well-formed, without control characters, at most 256 bytes`);
  switch (name) {
    case 'list':
      return { kind: 'list', userId: userId!, options };
    case 'revoke':
      if (!isTokenId(tokenId)) throw new UsageError(`tokenId must be a token id as list shows it: ${TOKEN_ID_LENGTH} characters of A-Z, a-z, 0-9, - and _`);
      return { kind: 'revoke', userId: userId!, tokenId, options };
    case 'revoke-all':
      return { kind: 'revoke-all', userId: userId!, options };
    case 'stats':
      return { kind: 'stats', options };
    case 'prune':
      return { kind: 'prune', options };
  }
}
