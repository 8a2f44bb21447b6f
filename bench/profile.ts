// One contender alone under load, for a clean CPU profile of its path:
//   node --cpu-prof --cpu-prof-dir=.bench-out/profiles --import tsx bench/profile.ts ours 64 5
//   node --import tsx bench/profile-summary.ts .bench-out/profiles/<file>.cpuprofile
// Contenders: the keys of contenderOps in bench/contenders.ts (ours, ours-csc, bearer, jwt,
// jwt-key, raw, raw-notimer, raw-csc, sha-raw, ours-malformed, ours-unknown, bearer-malformed, floor).
import { withContenders } from './contenders.js';
import { runLoad } from './measure.js';

const [name = 'ours', concurrencyArg = '64', secondsArg = '5'] = process.argv.slice(2);
await withContenders(async ({ ops }) => {
  const op = ops[name];
  if (op === undefined) throw new Error(`unknown contender ${name}; known: ${Object.keys(ops).join(', ')}`);
  await runLoad(op, Number(concurrencyArg), 500);
  const result = await runLoad(op, Number(concurrencyArg), Number(secondsArg) * 1000);
  console.log(
    `${name} c=${concurrencyArg}: ${Math.round(result.opsPerSec)} ops/s, CPU ${result.cpu.toFixed(2)} µs per call, p50 ${result.p50.toFixed(1)} µs, p99 ${result.p99.toFixed(1)} µs`,
  );
});
