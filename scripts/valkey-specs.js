// `npm run test:valkey`: the Valkey rows of the test matrix. The specs of the listed files run
// again with SPEC_SERVER=$VALKEY_SERVER, so every server they start (standalone, replicas,
// Sentinel, cluster nodes) is valkey-server. Without VALKEY_SERVER: one line, and skipped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';

const SPECS = ['acl', 'scripts', 'storage', 'lifecycle', 'revocation', 'clients', 'faults'];

const valkey = process.env.VALKEY_SERVER;
if (valkey === undefined || valkey === '') {
  process.stdout.write('SKIPPED the Valkey rows (acl, scripts, storage, lifecycle, revocation, clients, faults, durability): VALKEY_SERVER is not set; set VALKEY_SERVER=/path/to/valkey-server\n');
  process.exit(0);
}
if (!existsSync(valkey)) {
  process.stderr.write(`VALKEY_SERVER=${valkey} does not exist\n`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...SPECS.map((name) => `spec/${name}.spec.ts`)],
  { stdio: 'inherit', env: { ...process.env, SPEC_SERVER: valkey, TSX_TSCONFIG_PATH: 'tsconfig.spec.json' } },
);
process.exit(result.status ?? 1);
