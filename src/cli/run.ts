import { createRequire } from 'node:module';
import { MultiTokenError } from '../errors.js';
import { MultiTokenRepository } from '../repository.js';
import { collectStats, pruneTokens, type ScanProgress } from './admin.js';
import { openConnection, type AdminConnection } from './connection.js';
import { formatPrune, formatStats, formatTokenList, progressLine, tokenJson } from './format.js';
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

function print(io: CliIo, options: CommonOptions, json: unknown, text: string): void {
  io.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : text);
}

function progressFor(io: CliIo, options: CommonOptions, label: string): { onProgress?: (progress: ScanProgress) => void; end(): void } {
  // Only a person at a terminal wants it; a pipe, a file or a program reading --json does not.
  if (options.json || io.stderr.isTTY !== true) return { end: () => {} };
  const line = progressLine(io.stderr, label);
  return { onProgress: (progress) => line.update(progress), end: () => line.end() };
}

function repositoryOn(connection: AdminConnection, options: CommonOptions): MultiTokenRepository {
  return new MultiTokenRepository({
    redis: connection.client,
    keyPrefix: options.prefix,
    timeout: options.timeoutMs,
    idleTimeout: options.idleMs === null ? null : options.idleMs / 1000,
    // The CLI authenticates nothing, so it writes no lastUsedAt; 0 keeps any idleTimeout valid.
    touchInterval: 0,
  });
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
        const tokens = await repositoryOn(connection, options).listTokens({ id: invocation.userId });
        print(io, options, { userId: invocation.userId, tokens: tokens.map(tokenJson) }, formatTokenList(invocation.userId, tokens));
        return;
      }
      case 'revoke': {
        const { userId, tokenId } = invocation;
        const revoked = await repositoryOn(connection, options).expireTokenById({ id: userId }, tokenId);
        print(io, options, { userId, tokenId, revoked }, revoked ? `Revoked token ${tokenId} of user ${userId}.\n` : '');
        if (!revoked) throw new OperationFailed(`user ${userId} has no live token ${tokenId}`);
        return;
      }
      case 'revoke-all': {
        const { userId } = invocation;
        const revoked = await repositoryOn(connection, options).expireAllTokens({ id: userId });
        print(io, options, { userId, revoked }, `Revoked ${revoked} token${revoked === 1 ? '' : 's'} of user ${userId}.\n`);
        return;
      }
      case 'stats': {
        const progress = progressFor(io, options, 'stats');
        try {
          const stats = await collectStats(connection, { prefix: options.prefix, idleMs: options.idleMs, onProgress: progress.onProgress });
          progress.end();
          const idleTimeout = options.idleMs === null ? null : options.idleMs / 1000;
          print(io, options, { prefix: options.prefix, idleTimeout, cluster: connection.cluster, ...stats }, formatStats(options.prefix, stats, options.idleMs));
        } finally {
          progress.end();
        }
        return;
      }
      case 'prune': {
        const progress = progressFor(io, options, 'prune');
        try {
          const result = await pruneTokens(connection, { prefix: options.prefix, idleMs: options.idleMs, onProgress: progress.onProgress });
          progress.end();
          const idleTimeout = options.idleMs === null ? null : options.idleMs / 1000;
          print(io, options, { prefix: options.prefix, idleTimeout, cluster: connection.cluster, ...result }, formatPrune(options.prefix, result, options.idleMs));
        } finally {
          progress.end();
        }
        return;
      }
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
