// A strict TypeScript consumer of the built package, type-checked by tsc as a consumer's
// project would be: the package and its types reached through node_modules, under each
// moduleResolution a consumer may use. `npm test` builds dist/ before the specs run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = join(root, 'spec', 'fixtures', 'typed-consumer');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let project: string;

const strict = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
};

/** Runs tsc on a tsconfig written into the consumer project; resolves with its exit code and output. */
function typecheck(name: string, compilerOptions: Record<string, unknown>, files: string[]): Promise<{ code: number; output: string }> {
  const config = join(project, `tsconfig.${name}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files }));
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, '-p', config], { cwd: project }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

before(() => {
  assert.ok(existsSync(join(root, 'dist', 'cjs', 'express.d.ts')), 'dist/ is missing: run npm run build first');
  project = mkdtempSync(join(tmpdir(), 'rmt-consumer-'));
  cpSync(fixture, project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const modules = join(project, 'node_modules');
  mkdirSync(modules);
  symlinkSync(root, join(modules, 'passport-redis-multi-token'), 'dir');
  symlinkSync(join(root, 'node_modules', '@types'), join(modules, '@types'), 'dir');
});

after(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('a strict TypeScript consumer that imports passport-redis-multi-token/express', () => {
  it('reads req.authInfo.scopes with no cast under node16, bundler and node10', async () => {
    const results = await Promise.all([
      typecheck('node16', { module: 'node16', moduleResolution: 'node16' }, ['express-app.ts', 'express-app-cjs.cts']),
      typecheck('bundler', { module: 'esnext', moduleResolution: 'bundler' }, ['express-app.ts']),
      typecheck('node10', { module: 'commonjs', moduleResolution: 'node10' }, ['express-app.ts']),
    ]);
    for (const [i, name] of ['node16', 'bundler', 'node10'].entries()) {
      assert.equal(results[i]!.code, 0, `${name}:\n${results[i]!.output}`);
    }
  });

  it('does not compile without that import', async () => {
    const { code, output } = await typecheck('untyped', { module: 'node16', moduleResolution: 'node16' }, ['untyped.ts']);
    assert.notEqual(code, 0);
    assert.match(output, /error TS2339: Property 'scopes' does not exist on type 'AuthInfo'/);
  });
});
