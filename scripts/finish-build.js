// After tsc: dist/cjs holds CommonJS output inside a "type": "module" package, so say so to
// Node; and the CLI's entry (ES module only) must be executable.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = join(import.meta.dirname, '..', 'dist');
writeFileSync(join(dist, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
chmodSync(join(dist, 'esm', 'cli', 'bin.js'), 0o755);
