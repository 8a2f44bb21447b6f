import { createRequire } from 'node:module';
import { MultiTokenError } from '../errors.js';
import { MultiTokenRepository } from '../repository.js';
import type { MultiTokenRepositoryOptions } from '../options.js';
import { describeUrl, redactUrl } from '../connection.js';
import { collectStats, listUserTokens, pruneTokens, type ScanProgress, type WalkOptions } from './admin.js';
import { openConnection, type AdminConnection } from './connection.js';
import { formatPrune, formatStats, formatTokenList, printable, printableJson, progressLine, tokenJson } from './format.js';
import { readInvocation, TOOL, UsageError, type CommonOptions, type Invocation } from './usage.js';

// One run of the CLI: read the command line, do the work, print, and say the exit status.
// Every failure ends up as one line on stderr: 2 for bad usage, 1 for a failed operation.

/** Exit status of a run that did what it was asked. */
export const EXIT_OK = 0;
/** Exit status of a failed operation: Redis unreachable or too slow, no such token. */
export const EXIT_FAILED = 1;
/** Exit status of bad usage. */
export const EXIT_USAGE = 2;

/** Where a run reads its environment and writes its output. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
}

/** An operation that ran and found nothing to do what it was asked, such as no such token. */
class OperationFailed extends Error {
  override name: string = 'OperationFailed';
}

function version(): string {
  // The package's own name resolves to itself through its exports, from src and dist alike.
  const pkg: unknown = createRequire(import.meta.url)('passport-redis-multi-token/package.json');
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** What one error says: its message, or for an empty AggregateError (a failed dual-stack connect) its first error's. */
function messageOf(err: Error): string {
  if (err.message !== '') return err.message;
  const first: unknown = err instanceof AggregateError ? err.errors[0] : undefined;
  return first instanceof Error && first.message !== '' ? first.message : err.name;
}

/** An error and the causes it carries, on one line, never a stack. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let message = messageOf(err);
  // A store error names what failed; its causes say why.
  let cause: unknown = err instanceof MultiTokenError ? err.cause : undefined;
  while (cause instanceof Error) {
    const detail = messageOf(cause);
    if (!message.includes(detail)) message += `: ${detail}`;
    cause = cause.cause;
  }
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** The server and database a command read or wrote, as its output names them. */
function serverOf(connection: AdminConnection, options: CommonOptions): string {
  return connection.cluster ? `the Redis Cluster seeded at ${describeUrl(options.url).replace(/\/0$/, '')}` : describeUrl(options.url);
}

/**
 * Prints a command's result: JSON with `server` first, or the text with a last line naming the
 * server, database and prefix, so an answer such as "no live tokens" says where it looked.
 */
function print(io: CliIo, options: CommonOptions, server: string, json: object, text: string): void {
  if (options.json) io.stdout.write(`${printableJson({ server, ...json })}\n`);
  else if (text !== '') io.stdout.write(`${text}(${server}, prefix '${printable(options.prefix)}')\n`);
}

function progressFor(io: CliIo, options: CommonOptions, label: string): { onProgress?: (progress: ScanProgress) => void; end(): void } {
  // Only a person at a terminal wants it; a pipe, a file or a program reading --json does not.
  if (options.json || io.stderr.isTTY !== true) return { end: () => {} };
  const line = progressLine(io.stderr, label);
  return { onProgress: (progress) => line.update(progress), end: () => line.end() };
}

/** `count` and the noun, singular for one: `1 token`, `2 tokens`. */
function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** The idle timeout as the repository and the JSON output state it: seconds, or null for none. */
function idleSeconds(options: CommonOptions): number | null {
  return options.idleMs === null ? null : options.idleMs / 1000;
}

/** A repository that knows no pepper, and so keeps the tokens of every pepper it meets. */
class AdminRepository extends MultiTokenRepository {
  constructor(options: MultiTokenRepositoryOptions) {
    super(options);
    // '' tells the scripts to drop no token for its pepper: the app's peppers are not known here.
    this.settings.liveFingerprints = '';
  }
}

/** Where a command that found nothing looked: the prefix and the URL (never its password). */
function lookedIn(options: CommonOptions): string {
  return `under prefix '${printable(options.prefix)}' at ${redactUrl(options.url)}; check --url (and its database) and --prefix`;
}

function repositoryOn(connection: AdminConnection, options: CommonOptions): MultiTokenRepository {
  return new AdminRepository({
    redis: connection.client,
    keyPrefix: options.prefix,
    timeout: options.timeoutMs,
    idleTimeout: idleSeconds(options),
    // The CLI authenticates nothing, so it writes no lastUsedAt; 0 keeps any idleTimeout valid.
    touchInterval: 0,
  });
}

/**
 * Runs one of the commands that walk the whole key space (`stats`, `prune`) with its progress
 * line, and prints what it found: the same JSON frame and the same text for both.
 */
async function walkKeySpace<Result extends object>(
  io: CliIo,
  options: CommonOptions,
  connection: AdminConnection,
  label: string,
  walk: (connection: AdminConnection, options: WalkOptions) => Promise<Result>,
  format: (prefix: string, result: Result, idleMs: number | null) => string,
): Promise<void> {
  const progress = progressFor(io, options, label);
  try {
    const result = await walk(connection, { prefix: options.prefix, idleMs: options.idleMs, onProgress: progress.onProgress });
    // Erased before the result is printed; the finally erases it when the walk fails.
    progress.end();
    print(io, options, serverOf(connection, options), { prefix: options.prefix, idleTimeout: idleSeconds(options), cluster: connection.cluster, ...result }, format(options.prefix, result, options.idleMs));
  } finally {
    progress.end();
  }
}

async function execute(invocation: Exclude<Invocation, { kind: 'help' } | { kind: 'version' }>, io: CliIo): Promise<void> {
  const { options } = invocation;
  const connection = await openConnection({ url: options.url, cluster: options.cluster, timeoutMs: options.timeoutMs, prefix: options.prefix });
  try {
    // Walking one server of a cluster would undercount: say so rather than guess.
    if ((invocation.kind === 'stats' || invocation.kind === 'prune') && connection.undetermined !== undefined) {
      throw new OperationFailed(connection.undetermined);
    }
    switch (invocation.kind) {
      case 'list': {
        const tokens = await listUserTokens(connection, options.prefix, invocation.userId, options.idleMs);
        print(io, options, serverOf(connection, options), { userId: invocation.userId, tokens: tokens.map(tokenJson) }, formatTokenList(invocation.userId, tokens));
        return;
      }
      case 'revoke': {
        const { userId, tokenId } = invocation;
        const revoked = await repositoryOn(connection, options).expireTokenById({ id: userId }, tokenId);
        print(io, options, serverOf(connection, options), { userId, tokenId, revoked }, revoked ? `Revoked token ${tokenId} of user ${printable(userId)}.\n` : '');
        if (!revoked) throw new OperationFailed(`user ${printable(userId)} has no live token ${tokenId} ${lookedIn(options)}`);
        return;
      }
      case 'revoke-all': {
        const { userId } = invocation;
        const revoked = await repositoryOn(connection, options).expireAllTokens({ id: userId });
        print(io, options, serverOf(connection, options), { userId, revoked }, revoked === 0 ? '' : `Revoked ${counted(revoked, 'token')} of user ${printable(userId)}.\n`);
        // Nothing found is most often the wrong prefix, URL or database: say where it looked.
        if (revoked === 0) throw new OperationFailed(`user ${printable(userId)} has no live token ${lookedIn(options)}`);
        return;
      }
      // Awaited, not returned: the connection must stay open until the walk is done.
      case 'stats':
        await walkKeySpace(io, options, connection, 'stats', collectStats, formatStats);
        return;
      case 'prune':
        await walkKeySpace(io, options, connection, 'prune', pruneTokens, formatPrune);
        return;
    }
  } finally {
    connection.close();
  }
}

/**
 * Runs the CLI on `argv` (the arguments after the script) and resolves to its exit status:
 * 0 on success, 1 when an operation failed, 2 on bad usage. Never rejects.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = readInvocation(argv, io.env);
  } catch (err) {
    io.stderr.write(`${TOOL}: ${describe(err)}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
  if (invocation.kind === 'help') {
    io.stdout.write(invocation.text);
    return EXIT_OK;
  }
  if (invocation.kind === 'version') {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  try {
    await execute(invocation, io);
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`${TOOL}: ${describe(err)}\n`);
    return EXIT_FAILED;
  }
}
