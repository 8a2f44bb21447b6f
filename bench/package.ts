// The package under test, as its users run it: src/ compiled by tsc (the same compiler and
// settings as the published build) into .bench-out/pkg/, then imported from there. Running src/
// through tsx instead would tax ours alone: tsx's esbuild transform wraps every closure in a
// `__name()` call, 3% of our verification path in a profile, which the real build does not have.
// The types still come from src/, so the bench type-checks on a clean clone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Index from '../src/index.js';
import type * as Keys from '../src/keys.js';
import type * as Record from '../src/record.js';
import type * as Deadline from '../src/deadline.js';
import type * as Token from '../src/token.js';
import type * as Scripts from '../src/scripts.js';
import type * as TokenInfo from '../src/token-info.js';
import type * as Bearer from '../src/bearer.js';

const root = new URL('../', import.meta.url);
const out = new URL('.bench-out/pkg/', root);
const stamp = new URL('.compiled', out);

function newestSource(): number {
  const dir = new URL('src/', root);
  return Math.max(...readdirSync(dir).map((name) => statSync(new URL(name, dir)).mtimeMs), statSync(new URL('tsconfig.json', root)).mtimeMs);
}

/** Compiles src/ into .bench-out/pkg/ unless that copy is newer than every source file. */
export function compilePackage(): void {
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '-p', fileURLToPath(new URL('tsconfig.build.json', root)),
      '--outDir', fileURLToPath(out),
      '--declaration', 'false',
      '--declarationMap', 'false',
      '--isolatedDeclarations', 'false',
      '--sourceMap', 'false',
    ],
    { stdio: 'inherit' },
  );
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

// The HTTP apps, started by a bench that has just compiled, must not race to compile again.
if (process.env.BENCH_PACKAGE_READY !== '1') {
  compilePackage();
  process.env.BENCH_PACKAGE_READY = '1';
}

/** The package's public API, compiled. */
export const pkg = (await import(new URL('index.js', out).href)) as typeof Index;
/** Internal key builders, for the bare HGET contenders' key. */
export const keys = (await import(new URL('keys.js', out).href)) as typeof Keys;
/** Internal token arithmetic, for well-formed unknown tokens. */
export const token = (await import(new URL('token.js', out).href)) as typeof Token;
/** The stored record's format, for filling Redis with records as the scripts write them. */
export const record = (await import(new URL('record.js', out).href)) as typeof Record;
/** The deadline keeper, for pricing it alone. */
export const deadline = (await import(new URL('deadline.js', out).href)) as typeof Deadline;
/** The Lua scripts, for sending a touch as the repository sends it. */
export const scripts = (await import(new URL('scripts.js', out).href)) as typeof Scripts;
/** Token info as handed out, for pricing it alone. */
export const tokenInfo = (await import(new URL('token-info.js', out).href)) as typeof TokenInfo;
/** Reading a token from a request (RFC 6750), for pricing it alone. */
export const bearer = (await import(new URL('bearer.js', out).href)) as typeof Bearer;
