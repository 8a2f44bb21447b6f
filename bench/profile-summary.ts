// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package,
// so a missed target can be explained without a GUI.
//   node --import tsx bench/profile-summary.ts .bench-out/profiles/x.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function isProfile(value: unknown): value is CpuProfile {
  if (value === null || typeof value !== 'object') return false;
  const profile = value as Record<string, unknown>;
  return Array.isArray(profile.nodes) && Array.isArray(profile.samples) && Array.isArray(profile.timeDeltas);
}

function where(url: string): string {
  if (url === '') return '(native / V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules !== null) return modules[1]!;
  if (url.startsWith('node:')) return 'node core';
  const compiled = /\/\.bench-out\/pkg\/([^/]+)\.js$/.exec(url);
  if (compiled !== null) return `src/${compiled[1]!}.ts`;
  const local = /\/(src|bench|spec)\/[^/]+$/.exec(url);
  return local !== null ? local[0].slice(1) : url;
}

/** Self time per function and per package, largest first, as text lines. */
export function summarise(profile: CpuProfile, top: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'}  ${where(url)}${url === '' ? '' : `:${lineNumber + 1}`}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + time);
    byPackage.set(where(url), (byPackage.get(where(url)) ?? 0) + time);
  }
  const pct = (time: number): string => `${((100 * time) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled: ${(total / 1000).toFixed(0)} ms`, '', 'self time by package:'];
  for (const [name, time] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${pct(time)}  ${name}`);
  lines.push('', 'self time by function:');
  for (const [name, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(time)}  ${name}`);
  // Inclusive time of the package's own functions: what each costs with everything it calls.
  const inclusive = new Map<string, number>();
  const visit = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id);
    if (node === undefined) return 0;
    let time = self.get(id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const local = /\/(src|bench|\.bench-out\/pkg)\/[^/]+$/.test(url);
    const name = `${functionName || '(anonymous)'}  ${where(url)}:${lineNumber + 1}`;
    const fresh = local && !onStack.has(name);
    if (fresh) onStack.add(name);
    for (const child of node.children ?? []) time += visit(child, onStack);
    if (fresh) {
      onStack.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + time);
    }
    return time;
  };
  const root = profile.nodes[0];
  if (root !== undefined) visit(root.id, new Set());
  lines.push('', 'inclusive time of src/ and bench/ functions:');
  for (const [name, time] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(time)}  ${name}`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(parsed)) throw new Error(`${file} is not a V8 CPU profile`);
  console.log(summarise(parsed, Number(process.argv[3] ?? 25)).join('\n'));
}
