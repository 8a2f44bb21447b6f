// How much throughput one more microsecond of CPU per verification costs, against the floor:
// the minimal hashed-token strategy, and the same strategy made to burn a fixed extra CPU time
// per call (a busy loop before its read), side by side with ours in interleaved rounds on one
// throwaway redis-server. Where ours falls among them says how much more CPU per verification
// it spends under load than the floor, and how much less it would need to reach a ratio.
//   node --import tsx bench/sensitivity.ts [concurrency=64] [rounds=10] [ms=500] [extras µs=0.5,1,1.5]
import { bearerRequest, MinimalHashedStrategy, passportCall, withContenders, withoutTimer } from './contenders.js';
import { interleave, type Contender } from './inprocess.js';
import { median } from './measure.js';

const [concurrencyArg = '64', roundsArg = '10', msArg = '500', extrasArg = '0.5,1,1.5'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const extras = extrasArg.split(',').map(Number);

/** Burns `ns` nanoseconds of this thread's time. */
function burn(ns: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(ns));
  while (process.hrtime.bigint() < end);
}

await withContenders(async ({ client, tokens, ops }) => {
  const bare = withoutTimer(client);
  const slowed = (us: number): Contender => {
    const strategy = new MinimalHashedStrategy((id) => {
      burn(us * 1000);
      return bare.hGet(tokens.oursRecordKey, id);
    });
    const call = passportCall(strategy, bearerRequest(tokens.ours));
    return { key: `minimal+${us}`, label: `minimal strategy + ${us} µs of CPU`, op: async () => (await call()) === 'success' };
  };
  const contenders: Contender[] = [
    { key: 'ours', label: 'ours', op: ops.ours! },
    { key: 'minimal', label: 'minimal strategy', op: ops.minimal! },
    ...extras.map(slowed),
  ];
  const [result] = await interleave(contenders, {
    rounds: Number(roundsArg),
    durationMs: Number(msArg),
    warmupMs: 500,
    concurrencies: [concurrency],
    log: () => {},
  });
  const runs = result!.runs;
  const floor = runs.minimal!;
  console.log(`concurrency ${concurrency}, ${roundsArg} interleaved rounds of ${msArg} ms; medians, ratios are medians of per-round ratios`);
  console.log('contender        ops/s   CPU per call   × minimal');
  for (const { key } of contenders) {
    const list = runs[key]!;
    const ratio = median(list.map((run, i) => run.opsPerSec / floor[i]!.opsPerSec));
    console.log(`${key.padEnd(13)} ${Math.round(median(list.map((run) => run.opsPerSec))).toString().padStart(8)}   ${median(list.map((run) => run.cpu)).toFixed(2).padStart(7)} µs   ${ratio.toFixed(2)}×`);
  }
});
