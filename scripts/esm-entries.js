// Writes each ES module entry of package.json "exports" as a re-export of its CommonJS build,
// so a process that both imports and requires the package holds one copy of it: one
// MultiToken, one set of error classes that `instanceof` agrees on. tsc emits only the ESM
// declarations; the names re-exported are the CommonJS module's own, read by loading it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue; // ./package.json
  const esm = join(root, target.import.default);
  const cjs = join(root, target.require.default);
  let specifier = relative(dirname(esm), cjs).split('\\').join('/');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  const names = Object.keys(require(cjs)).filter((name) => name !== '__esModule' && name !== 'default');
  const lines = [`// ${pkg.name}${subpath.slice(1)}: the CommonJS build, re-exported (see scripts/esm-entries.js).`];
  if (names.length === 0) {
    lines.push(`import '${specifier}';`);
  } else {
    lines.push(`import cjs from '${specifier}';`, `export const { ${names.join(', ')} } = cjs;`);
  }
  writeFileSync(esm, `${lines.join('\n')}\n`);
}
