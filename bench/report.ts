// Turns a run's raw results into BENCHMARKS.md tables, target verdicts and the SVG chart.
// Every figure is a median over interleaved rounds; every ratio is the median of per-round
// ratios, so a slow patch of the machine that hits one round hits both sides of it.
import type { GrowthRow } from './growth.js';
import type { HttpRun } from './http.js';
import type { InterleavedRuns } from './inprocess.js';
import type { LoadResult } from './measure.js';
import { median, spread } from './measure.js';
import type { MemoryRow } from './memory.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  redisServer: string;
  packages: Record<string, string>;
  loadAverageAtStart: number[];
  /** Load average when the run ended; absent in runs made before it was recorded. */
  loadAverageAtEnd?: number[];
}

export interface Labelled {
  key: string;
  label: string;
}

export interface BenchResults {
  mode: 'full' | 'quick';
  startedAt: string;
  seconds: number;
  machine: Machine;
  inProcess?: {
    rounds: number;
    durationMs: number;
    contenders: Labelled[];
    runs: InterleavedRuns[];
    commandsPerCall: Record<string, Record<string, number>>;
    /** Sequential calls INFO commandstats was read over. */
    commandSamples?: number;
    cache: { hits: number; misses: number };
  };
  malformed?: {
    rounds: number;
    durationMs: number;
    contenders: Labelled[];
    runs: InterleavedRuns[];
    commandsPerCall: Record<string, Record<string, number>>;
  };
  http?: {
    rounds: number;
    durationSeconds: number;
    connections: number;
    /** Each app pinned to CPU 0, autocannon and redis-server to CPU 1 (absent in older runs: not pinned). */
    pinned?: boolean;
    apps: Labelled[];
    runs: Record<string, HttpRun[]>;
  };
  memory?: MemoryRow[];
  growth?: { rounds: number; createCalls: number; rows: GrowthRow[] };
}

/** A target, checked against a run. */
export interface Verdict {
  target: string;
  goal: string;
  measured: string;
  /** The lowest and highest per-round value behind `measured`, where it is a ratio. */
  range: string;
  met: boolean | null;
}

// ---------------------------------------------------------------- numbers

function roundRatios<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, value: (run: T) => number): number[] {
  if (a === undefined || b === undefined) return [];
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(value(a[i]!) / value(b[i]!));
  return ratios;
}

function ratioOfRuns<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, value: (run: T) => number): number {
  return median(roundRatios(a, b, value));
}

function rangeOfRatios<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, value: (run: T) => number): string {
  const ratios = roundRatios(a, b, value);
  if (ratios.length === 0) return 'n/a';
  const { min, max } = spread(ratios);
  return `${times(min)}–${times(max)}`;
}

const ops = (run: LoadResult): number => run.opsPerSec;
const rps = (run: HttpRun): number => run.requestsPerSec;

function at(results: readonly InterleavedRuns[] | undefined, concurrency: number): Record<string, LoadResult[]> | undefined {
  return results?.find((entry) => entry.concurrency === concurrency)?.runs;
}

function count(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100_000) return `${Math.round(value / 1000).toLocaleString('en-US')}k`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)}k`;
  return Math.round(value).toLocaleString('en-US');
}

function micros(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} ms`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} ms`;
  return value >= 100 ? `${Math.round(value)} µs` : `${value.toFixed(1)} µs`;
}

function cpuMicros(value: number | undefined): string {
  return value !== undefined && Number.isFinite(value) ? `${value.toFixed(1)} µs` : 'n/a';
}

function millis(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(value >= 10 ? 0 : 1)} ms` : 'n/a';
}

function times(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 10 ? `${Math.round(value)}×` : `${value.toFixed(2)}×`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const rule = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [header, rule, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

function commands(perCall: Record<string, number> | undefined): string {
  if (perCall === undefined) return 'n/a';
  const entries = Object.entries(perCall).filter(([, calls]) => calls >= 0.0005);
  if (entries.length === 0) return '0';
  return entries.map(([name, calls]) => `${calls >= 0.995 && calls <= 1.005 ? '1' : calls.toFixed(3)} ${name.toUpperCase()}`).join(' + ');
}

// ---------------------------------------------------------------- verdicts

interface RatioTarget {
  target: string;
  goal: number;
  a: readonly LoadResult[] | undefined;
  b: readonly LoadResult[] | undefined;
}

function ratioVerdict<T>(target: string, goal: number, a: readonly T[] | undefined, b: readonly T[] | undefined, value: (run: T) => number): Verdict {
  const ratio = ratioOfRuns(a, b, value);
  return {
    target,
    goal: `≥ ${times(goal)}`,
    measured: times(ratio),
    range: rangeOfRatios(a, b, value),
    met: Number.isFinite(ratio) ? ratio >= goal : null,
  };
}

/** The lowest and highest verification ops/s of any size against n = 1 (medians of per-pass ratios); what "flat" is judged on. */
export function growthFlatness(rows: readonly GrowthRow[]): { worst: number; best: number } {
  const first = rows[0];
  if (first === undefined || rows.length < 2) return { worst: Number.NaN, best: Number.NaN };
  const ratios = rows.slice(1).map((row) => ratioOfRuns(row.verifyPasses, first.verifyPasses, (v) => v));
  return { worst: Math.min(...ratios), best: Math.max(...ratios) };
}

/** Checks each target; `met` is null where the section did not run. */
export function verdicts(results: BenchResults): Verdict[] {
  const c64 = at(results.inProcess?.runs, 64);
  const c1 = at(results.inProcess?.runs, 1);
  const http = results.http?.runs;
  // The floor is the minimal hashed-token strategy (header, digest, one read, success()): what
  // any strategy like ours must do, and nothing more.
  const targets: RatioTarget[] = [
    { target: 'Verify vs the minimal hashed-token strategy', goal: 0.85, a: c64?.ours, b: c64?.minimal },
    { target: 'Verify vs the minimal hashed-token strategy, concurrency 1', goal: 0.85, a: c1?.ours, b: c1?.minimal },
    { target: 'Verify with client-side caching vs the minimal strategy on the same cache', goal: 0.8, a: c64?.['ours-csc'], b: c64?.['minimal-csc'] },
    { target: 'Verify with client-side caching vs passport-jwt with a KeyObject secret', goal: 1.6, a: c64?.['ours-csc'], b: c64?.['jwt-key'] },
    { target: 'Verify vs passport-http-bearer + GET', goal: 1.4, a: c64?.ours, b: c64?.bearer },
  ];
  const out = targets.map((t) => ratioVerdict(t.target, t.goal, t.a, t.b, ops));
  out.push(ratioVerdict('HTTP (Express 5, 64 connections): ours vs a Passport strategy that succeeds at once', 0.95, http?.ours, http?.instant, rps));
  out.push(ratioVerdict('HTTP with client-side caching vs that same strategy', 0.95, http?.['ours-csc'], http?.instant, rps));
  for (const [key, goal, perUser] of [['ours-10', 120, '10 tokens per user'], ['ours-1', 250, '1 token per user']] as const) {
    const memory = results.memory?.find((row) => row.key === key);
    out.push({
      target: `Redis memory per token, ${perUser}, short device label (${memory === undefined ? 'n' : memory.tokens.toLocaleString('en-US')} tokens)`,
      goal: `≤ ${goal} bytes`,
      measured: memory === undefined ? 'n/a' : `${Math.round(memory.bytesPerToken)} bytes`,
      range: memory === undefined ? 'n/a' : `MEMORY USAGE: ${Math.round(memory.keyBytesPerToken)}`,
      met: memory === undefined ? null : memory.bytesPerToken <= goal,
    });
  }
  for (const concurrency of [64, 1]) {
    const runs = at(results.malformed?.runs, concurrency);
    out.push(ratioVerdict(`Malformed token rejected vs passport-http-bearer, concurrency ${concurrency}`, 10, runs?.['ours-malformed'], runs?.['bearer-malformed'], ops));
  }
  const growth = results.growth?.rows;
  const flat = growth === undefined ? undefined : growthFlatness(growth);
  const last = growth?.at(-1);
  out.push({
    target: `Verify stays flat from 1 to ${last === undefined ? 'n' : last.tokens.toLocaleString('en-US')} tokens per user (concurrency 1, against n = 1)`,
    goal: 'every n within 0.85–1.15×',
    measured: flat === undefined ? 'n/a' : `${times(flat.worst)}–${times(flat.best)}`,
    range: 'lowest–highest n, medians of per-pass ratios',
    met: flat === undefined || !Number.isFinite(flat.worst) ? null : flat.worst >= 0.85 && flat.best <= 1.15,
  });
  return out;
}

// ---------------------------------------------------------------- markdown

function loadTable(runs: Record<string, LoadResult[]>, contenders: readonly Labelled[], baseline: string, baselineLabel: string): string {
  const rows = contenders.map((c) => {
    const list = runs[c.key] ?? [];
    const range = spread(list.map(ops));
    return [
      c.label,
      count(median(list.map(ops))),
      `${count(range.min)}–${count(range.max)}`,
      micros(median(list.map((run) => run.p50))),
      micros(median(list.map((run) => run.p99))),
      cpuMicros(median(list.map((run) => run.cpu))),
      times(ratioOfRuns(list, runs[baseline], ops)),
      times(ratioOfRuns(list, runs.ours, ops)),
    ];
  });
  return table(['strategy', 'ops/s (median)', 'min–max', 'p50', 'p99', 'CPU per call', `× ${baselineLabel}`, '× ours'], rows);
}

function inProcessSection(r: NonNullable<BenchResults['inProcess']>): string {
  const parts = [
    '### Verification in process',
    '',
    `Each strategy's \`authenticate\` called as Passport calls it (on \`Object.create(strategy)\` with \`success\`, \`fail\` and \`error\` attached), in ${r.rounds} interleaved rounds of ${r.durationMs / 1000} s per strategy and concurrency. The bare \`hGet\`s of the token's field skip Passport and our code entirely: the floor of one round trip, with node-redis's default 5 s timer per command, without it (\`withCommandOptions({ timeout: 0 })\`, as the repository sends its reads), and served by the client-side cache. "CPU per call" is this process's CPU time (user + system) over the calls made, so time spent waiting for a core or for Redis does not count.`,
    '',
    '![Verification throughput: ours against the peers](bench/verification.svg)',
  ];
  for (const entry of r.runs) {
    parts.push('', `**Concurrency ${entry.concurrency}**`, '', loadTable(entry.runs, r.contenders, 'raw-notimer', 'bare hGet, no timer'));
  }
  const hitRate = r.cache.hits / Math.max(1, r.cache.hits + r.cache.misses);
  parts.push(
    '',
    `Redis commands one verification costs (INFO commandstats over ${(r.commandSamples ?? 2000).toLocaleString('en-US')} sequential verifications):`,
    '',
    table(['strategy', 'commands per verification'], r.contenders.map((c) => [c.label, commands(r.commandsPerCall[c.key])])),
    '',
    `The client-side cache answered ${(100 * hitRate).toFixed(3)}% of the cached contenders' HGETs (${r.cache.hits.toLocaleString('en-US')} hits, ${r.cache.misses.toLocaleString('en-US')} misses, from node-redis's own cache statistics); the server saw ${commands(r.commandsPerCall['ours-csc'])} per verification.`,
  );
  return parts.join('\n');
}

function httpSection(r: NonNullable<BenchResults['http']>): string {
  const rows = r.apps.map((app) => {
    const list = r.runs[app.key] ?? [];
    const range = spread(list.map(rps));
    return [
      app.label,
      count(median(list.map(rps))),
      `${count(range.min)}–${count(range.max)}`,
      millis(median(list.map((run) => run.p50))),
      millis(median(list.map((run) => run.p99))),
      times(ratioOfRuns(list, r.runs.none, rps)),
      times(ratioOfRuns(list, r.runs.instant, rps)),
      times(ratioOfRuns(list, r.runs.bearer, rps)),
    ];
  });
  return [
    '### HTTP end to end',
    '',
    `Express 5, \`GET /me\` answering \`req.user\` as JSON, each app in its own Node process on 127.0.0.1; autocannon with ${r.connections} connections from the bench process, ${r.rounds} interleaved rounds of ${r.durationSeconds} s per app. Every answer had to be a 200. The instant strategy calls \`success()\` at once without reading anything (its requests carry our token, so the same bytes are parsed): Passport's middleware alone. ${r.pinned === true ? 'Each app ran pinned to CPU 0, with autocannon and redis-server pinned to CPU 1 (taskset), as if the clients and Redis were on other machines: the app\'s own CPU per request sets its throughput.' : 'Autocannon, the app and redis-server shared the machine\'s cores.'} The absolute figures are those of one core of a small machine; the ratios are what carries over.`,
    '',
    table(['app', 'req/s (median)', 'min–max', 'p50', 'p99', '× no auth', '× instant strategy', '× passport-http-bearer'], rows),
  ].join('\n');
}

function malformedSection(r: NonNullable<BenchResults['malformed']>): string {
  const c1 = at(r.runs, 1) ?? {};
  const c64 = at(r.runs, 64) ?? {};
  const rows = r.contenders.map((c) => [
    c.label,
    count(median((c1[c.key] ?? []).map(ops))),
    count(median((c64[c.key] ?? []).map(ops))),
    micros(median((c64[c.key] ?? []).map((run) => run.p50))),
    commands(r.commandsPerCall[c.key]),
    times(ratioOfRuns(c64[c.key], c64['bearer-malformed'], ops)),
  ]);
  return [
    '### Malformed tokens',
    '',
    `A live token of ours with its last character changed, so its checksum fails. Ours refuses it before any I/O; to passport-http-bearer it is one more string to hash and look up. The well-formed unknown token (right checksum, no record) shows what the checksum saves. ${r.rounds} interleaved rounds of ${r.durationMs / 1000} s.`,
    '',
    table(['rejecting', 'ops/s, c=1', 'ops/s, c=64', 'p50, c=64', 'Redis commands per rejection', '× passport-http-bearer (c=64)'], rows),
  ].join('\n');
}

function encodings(row: MemoryRow): string {
  const entries = Object.entries(row.encodings);
  if (entries.length === 1) return entries[0]![0];
  return entries.sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} (${n})`).join(', ');
}

function memorySection(rows: readonly MemoryRow[]): string {
  const plain = rows.find((row) => row.key === 'plain');
  return [
    '### Redis memory per token',
    '',
    'INFO memory `used_memory` before and after writing the tokens through each layout\'s own calls (ours: `createToken`), each layout on a fresh redis-server of its own with its default settings (`hash-max-listpack-value 64`, `hash-max-listpack-entries 512`). "MEMORY USAGE" is `MEMORY USAGE key SAMPLES 0` over a sample of the keys, per token they hold: the keys alone, without the keyspace\'s own tables. Every layout stores the same facts (user id, device label, created, last used, expiry) and gives each token an expiry. Ours writes last used only from a token\'s first touch on (until then it reads as created), as fresh tokens are measured here; its one hash per user is also what listing devices, "log out everywhere" and the per-user cap read.',
    '',
    table(
      ['layout', 'tokens', 'users', 'value bytes', 'encoding', 'bytes per token', 'MEMORY USAGE per token', '× plain SET', 'list devices / revoke all'],
      rows.map((row) => [
        row.label,
        row.tokens.toLocaleString('en-US'),
        row.users.toLocaleString('en-US'),
        String(row.valueBytes),
        encodings(row),
        String(Math.round(row.bytesPerToken)),
        Number.isFinite(row.keyBytesPerToken) ? String(Math.round(row.keyBytesPerToken)) : 'n/a',
        plain === undefined ? 'n/a' : times(row.bytesPerToken / plain.bytesPerToken),
        row.canListAndRevokeAll ? 'yes' : 'no (needs SCAN)',
      ]),
    ),
  ].join('\n');
}

function growthSection(g: NonNullable<BenchResults['growth']>): string {
  const first = g.rows[0];
  return [
    '### Cost against devices per user',
    '',
    `One user holding n tokens (no cap), for each n at once, in ${g.rounds} interleaved rounds; medians of sequential calls (${g.createCalls} creates per round, fewer \`listTokens\` calls at large n). "With a cap" is a repository with \`maxTokensPerUser: n\`, so every create also evicts the oldest token. Verification is the strategy at concurrency 1, in ${g.rows[0]?.verifyPasses.length ?? 0} short passes per size that interleave across sizes; "verify × n = 1" is the median of per-pass ratios. Users are filled by writing their records straight into their hash (as the create script writes them), since filling 10,000 tokens through \`createToken\` would take minutes.`,
    '',
    table(
      ['tokens held', 'createToken', 'createToken, cap = n', 'listTokens', 'expireAllTokens', 'verify p50', 'verify ops/s', 'verify × n = 1'],
      g.rows.map((row) => [
        row.tokens.toLocaleString('en-US'),
        micros(row.create),
        micros(row.createCapped),
        micros(row.list),
        micros(row.expireAll),
        micros(row.verify),
        count(row.verifyOpsPerSec),
        times(ratioOfRuns(row.verifyPasses, first?.verifyPasses, (value) => value)),
      ]),
    ),
  ].join('\n');
}

function machineSection(results: BenchResults): string {
  const m = results.machine;
  const packages = Object.entries(m.packages).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    `Run: \`${results.mode}\`, started ${results.startedAt}, took ${Math.round(results.seconds)} s.`,
    '',
    table(
      ['', ''],
      [
        ['CPU', `${m.cpus} × ${m.cpuModel} (\`nproc\` = ${m.cpus})`],
        ['memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Node.js', m.node],
        ['redis-server', m.redisServer],
        ['packages', packages],
        ['load average (1, 5, 15 min) at start', m.loadAverageAtStart.map((v) => v.toFixed(2)).join(', ')],
        ...(m.loadAverageAtEnd === undefined ? [] : [['load average at end', m.loadAverageAtEnd.map((v) => v.toFixed(2)).join(', ')]]),
      ],
    ),
  ].join('\n');
}

/** The generated part of BENCHMARKS.md. */
export function renderResults(results: BenchResults): string {
  const parts = [
    '## Results',
    '',
    machineSection(results),
    '',
    '### Targets',
    '',
    'Ratios are of throughput, in process at concurrency 64 unless the target says otherwise; each is the median of the per-round ratios of one interleaved run, and "spread" gives the lowest and highest per-round ratio.',
    '',
  ];
  parts.push(
    table(
      ['target', 'goal', 'measured', 'spread', 'met'],
      verdicts(results).map((v) => [v.target, v.goal, v.measured, v.range, v.met === null ? 'not run' : v.met ? '**yes**' : '**no**']),
    ),
  );
  if (results.inProcess !== undefined) parts.push('', inProcessSection(results.inProcess));
  if (results.http !== undefined) parts.push('', httpSection(results.http));
  if (results.malformed !== undefined) parts.push('', malformedSection(results.malformed));
  if (results.memory !== undefined) parts.push('', memorySection(results.memory));
  if (results.growth !== undefined) parts.push('', growthSection(results.growth));
  return parts.join('\n');
}

export const RESULTS_START = '<!-- bench:results:start (written by npm run bench; edits here are overwritten) -->';
export const RESULTS_END = '<!-- bench:results:end -->';

/** `document` with its generated part replaced by `generated`; the hand-written rest is kept. */
export function spliceResults(document: string, generated: string): string {
  const start = document.indexOf(RESULTS_START);
  const end = document.indexOf(RESULTS_END);
  if (start === -1 || end === -1 || end < start) {
    return `${document.trimEnd()}\n\n${RESULTS_START}\n${generated}\n${RESULTS_END}\n`;
  }
  return `${document.slice(0, start + RESULTS_START.length)}\n${generated}\n${document.slice(end)}`;
}

// ---------------------------------------------------------------- chart

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Bar {
  label: string;
  value: number;
  note: string;
  kind: 'ours' | 'peer' | 'floor';
}

interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

const COLOURS: Record<Bar['kind'], string> = { ours: '#2563eb', peer: '#9ca3af', floor: '#374151' };

/** A hand-drawn horizontal bar chart: one panel per measurement, each scaled to its own maximum. */
function drawChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const width = 900;
  const labelWidth = 300;
  const barArea = 400;
  const barHeight = 20;
  const gap = 8;
  const out: string[] = [];
  let y = 92;
  for (const panel of panels) {
    out.push(`<text x="16" y="${y}" class="panel">${xml(panel.title)}</text>`);
    y += 14;
    const max = Math.max(...panel.bars.map((bar) => bar.value));
    for (const bar of panel.bars) {
      const length = max > 0 ? Math.max(1, (bar.value / max) * barArea) : 1;
      out.push(
        `<text x="${labelWidth - 8}" y="${y + 14}" class="label" text-anchor="end">${xml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" rx="2" fill="${COLOURS[bar.kind]}"/>`,
        `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 14}" class="value">${xml(`${count(bar.value)} ${panel.unit}`)}<tspan class="note" dx="6">${xml(bar.note)}</tspan></text>`,
      );
      y += barHeight + gap;
    }
    y += 22;
  }
  const height = y + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:18px;font-weight:600;fill:#111827}.subtitle{font-size:12px;fill:#6b7280}.panel{font-size:14px;font-weight:600;fill:#111827}.label{font-size:13px;fill:#1f2937}.value{font-size:12px;fill:#111827}.note{fill:#6b7280}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" class="title">${xml(title)}</text>`,
    `<text x="16" y="42" class="subtitle">${xml(subtitle)}</text>`,
    `<rect x="16" y="54" width="12" height="12" fill="${COLOURS.ours}"/><text x="34" y="64" class="subtitle">ours</text>`,
    `<rect x="80" y="54" width="12" height="12" fill="${COLOURS.peer}"/><text x="98" y="64" class="subtitle">peers</text>`,
    `<rect x="150" y="54" width="12" height="12" fill="${COLOURS.floor}"/><text x="168" y="64" class="subtitle">baselines (no Passport, or no auth)</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function kindOf(key: string): Bar['kind'] {
  if (key.startsWith('ours')) return 'ours';
  return key.startsWith('raw') || key === 'sha-raw' || key === 'none' || key === 'instant' || key === 'floor' ? 'floor' : 'peer';
}

/** The verification chart: in process at each concurrency, then over HTTP. */
export function renderChart(results: BenchResults): string {
  const panels: Panel[] = [];
  const r = results.inProcess;
  if (r !== undefined) {
    for (const entry of r.runs) {
      panels.push({
        title: `In process, concurrency ${entry.concurrency}`,
        unit: 'ops/s',
        bars: r.contenders.map((c) => ({
          label: c.label,
          value: median((entry.runs[c.key] ?? []).map(ops)),
          note: c.key === 'ours' ? '' : `(${times(ratioOfRuns(entry.runs[c.key], entry.runs.ours, ops))} ours)`,
          kind: kindOf(c.key),
        })),
      });
    }
  }
  const h = results.http;
  if (h !== undefined) {
    panels.push({
      title: `HTTP end to end, Express 5, ${h.connections} connections`,
      unit: 'req/s',
      bars: h.apps.map((app) => ({
        label: app.label,
        value: median((h.runs[app.key] ?? []).map(rps)),
        note: app.key === 'none' ? '' : `(${times(ratioOfRuns(h.runs[app.key], h.runs.none, rps))} no auth)`,
        kind: kindOf(app.key),
      })),
    });
  }
  const m = results.machine;
  return drawChart(
    'Bearer token verification: passport-redis-multi-token against its peers',
    `Medians of interleaved rounds, ${results.startedAt.slice(0, 10)}; ${m.cpus} × ${m.cpuModel}, Node ${m.node}, redis-server ${m.redisServer}. Higher is better.`,
    panels,
  );
}
