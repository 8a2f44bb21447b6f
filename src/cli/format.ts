import { ANY_TAG } from '../keys.js';
import type { TokenInfo } from '../types.js';
import { TIME_LEFT_BUCKETS, type PruneResult, type ScanProgress, type TokenStats } from './admin.js';

// What the CLI prints: text for people, JSON for programs, and a progress line for terminals.
// Nothing here ever sees a token: token info carries public ids only.

const DEVICE_WIDTH = 40;
// What must not reach a terminal raw: controls, format characters (bidi overrides among them),
// lone surrogates, private-use and unassigned code points, line and paragraph separators.
const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/gu;
// The same, less C0: in JSON output, C0 stands outside strings (the indentation's newlines), and
// JSON.stringify has escaped every C0 inside them already.
// eslint-disable-next-line no-control-regex
const NON_PRINTABLE_IN_JSON = /(?![\x00-\x1f])[\p{C}\p{Zl}\p{Zp}]/gu;

/** `text` with every non-printable character written as `\u{XXXX}`, safe to print to a terminal. */
export function printable(text: string): string {
  return text.replace(NON_PRINTABLE, (char) => `\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** `value` as indented JSON whose strings carry no raw non-printable character: each is a `\\uXXXX` escape. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(NON_PRINTABLE_IN_JSON, (char) =>
    Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** A token as `list --json` prints it: the token info, dates as ISO 8601. */
export interface ListedTokenJson {
  id: string;
  device: string | null;
  scopes: string[];
  meta: Record<string, string>;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string | null;
}

/** The JSON form of one token's info. */
export function tokenJson(token: TokenInfo): ListedTokenJson {
  return {
    id: token.id,
    device: token.device,
    scopes: token.scopes,
    meta: token.meta,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt.toISOString(),
    expiresAt: token.expiresAt === null ? null : token.expiresAt.toISOString(),
  };
}

function when(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The text of `list`: one row per token, newest first. */
export function formatTokenList(rawUserId: string, tokens: readonly TokenInfo[]): string {
  const userId = printable(rawUserId);
  if (tokens.length === 0) return `User ${userId} has no live tokens.\n`;
  const rows = tokens.map((token) => [
    token.id,
    token.device === null ? '-' : cut(printable(token.device), DEVICE_WIDTH),
    printable(token.scopes.join(' ')),
    when(token.createdAt),
    when(token.lastUsedAt),
    token.expiresAt === null ? 'never' : when(token.expiresAt),
  ]);
  const count = `${tokens.length} live token${tokens.length === 1 ? '' : 's'} of user ${userId}`;
  return `${table(['ID', 'DEVICE', 'SCOPES', 'CREATED', 'LAST USED', 'EXPIRES'], rows)}\n\n${count}.\n`;
}

/** A byte count for people: B, KiB, MiB, GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]!}`;
}

const BUCKET_LABELS: Readonly<Record<(typeof TIME_LEFT_BUCKETS)[number], string>> = {
  '<1h': 'time left < 1 hour',
  '<1d': 'time left < 1 day',
  '<7d': 'time left < 7 days',
  '<30d': 'time left < 30 days',
  longer: 'time left >= 30 days',
  never: 'no expiry',
};

/** The text of `stats`. */
export function formatStats(prefix: string, stats: TokenStats, idleMs: number | null): string {
  const number = (value: number): string => value.toLocaleString('en-US');
  const rows: [string, string][] = [
    ['hashes', number(stats.keys)],
    ['users', number(stats.users)],
    ['live tokens', number(stats.tokens)],
    ...TIME_LEFT_BUCKETS.map((bucket): [string, string] => [`  ${BUCKET_LABELS[bucket]}`, number(stats.byTimeLeft[bucket])]),
    ['dead, not yet pruned', number(stats.expired)],
    ['memory', `${formatBytes(stats.memoryBytes)} (${number(stats.memoryBytes)} bytes)`],
  ];
  if (stats.unreadable > 0) rows.push(['not records of this package', number(stats.unreadable)]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const scope = `Keys ${prefix}{${ANY_TAG}} on ${stats.servers} server${stats.servers === 1 ? '' : 's'}` +
    (idleMs === null ? '' : `, idle timeout ${idleMs / 1000} s`);
  return `${scope}\n${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`;
}

/** The text of `prune`. */
export function formatPrune(prefix: string, result: PruneResult, idleMs: number | null): string {
  const idle = idleMs === null ? '' : ` (idle timeout ${idleMs / 1000} s)`;
  return (
    `Removed ${result.removed} dead token${result.removed === 1 ? '' : 's'}${idle} from ${result.keysPruned} of ` +
    `${result.keys} hash${result.keys === 1 ? '' : 'es'} under ${prefix} on ${result.servers} server${result.servers === 1 ? '' : 's'}.\n`
  );
}

/** Where progress goes: a terminal's stderr. */
export interface ProgressStream {
  write(text: string): unknown;
}

/** A one-line progress display, redrawn at most every 100 ms, and erased by `end()`. */
export interface ProgressLine {
  update(progress: ScanProgress): void;
  end(): void;
}

/** A progress line on `stream`, for a walk over the key space. */
export function progressLine(stream: ProgressStream, label: string): ProgressLine {
  let drawn = false;
  let last = 0;
  return {
    update(progress) {
      const now = performance.now();
      if (drawn && now - last < 100) return;
      last = now;
      drawn = true;
      const servers = progress.servers > 1 ? `, ${progress.serversDone}/${progress.servers} masters done` : '';
      stream.write(`\r\x1b[2K${label}: ${progress.keys.toLocaleString('en-US')} hash${progress.keys === 1 ? '' : 'es'}${servers}`);
    },
    end() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
