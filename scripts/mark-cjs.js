// dist/cjs holds CommonJS output inside a "type": "module" package: say so to Node.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

writeFileSync(join(import.meta.dirname, '..', 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
