// One contender alone under load, for a clean CPU profile of its path:
//   node --cpu-prof --cpu-prof-dir=.bench-out/profiles --import tsx bench/profile.ts ours 64 5
//   node --import tsx bench/profile-summary.ts .bench-out/profiles/<file>.cpuprofile
// Contenders: ours, ours-csc, bearer, jwt, jwt-key, raw, ours-malformed, bearer-malformed, floor.
import { startRedisServer } from '../spec/support/redis-server.js';
import {
  bearerRequest,
  bearerStrategy,
  cachingClient,
  jwtStrategy,
  malformedToken,
  oursStrategy,
  passportCall,
  plainClient,
  seedTokens,
  type Outcome,
} from './contenders.js';
import { runLoad } from './measure.js';

const [name = 'ours', concurrencyArg = '64', secondsArg = '5'] = process.argv.slice(2);
const server = await startRedisServer();
const client = await plainClient(server.url);
const csc = await cachingClient(server.url);
try {
  const tokens = await seedTokens(client);
  const expect = (call: () => Promise<Outcome>, outcome: Outcome) => async (): Promise<boolean> => (await call()) === outcome;
  const ops: Record<string, () => Promise<boolean>> = {
    ours: expect(passportCall(oursStrategy(client), bearerRequest(tokens.ours)), 'success'),
    'ours-csc': expect(passportCall(oursStrategy(csc), bearerRequest(tokens.ours)), 'success'),
    bearer: expect(passportCall(bearerStrategy(client), bearerRequest(tokens.bearer)), 'success'),
    jwt: expect(passportCall(jwtStrategy('string'), bearerRequest(tokens.jwt)), 'success'),
    'jwt-key': expect(passportCall(jwtStrategy('key'), bearerRequest(tokens.jwt)), 'success'),
    raw: async () => (await client.hGet(tokens.oursRecordKey, tokens.oursField)) !== null,
    'ours-malformed': expect(passportCall(oursStrategy(client), bearerRequest(malformedToken(tokens.ours))), 'fail'),
    'bearer-malformed': expect(passportCall(bearerStrategy(client), bearerRequest(malformedToken(tokens.ours))), 'fail'),
    // The harness alone: what a call that does nothing costs in runLoad.
    floor: () => Promise.resolve(true),
  };
  const op = ops[name];
  if (op === undefined) throw new Error(`unknown contender ${name}; known: ${Object.keys(ops).join(', ')}`);
  await runLoad(op, Number(concurrencyArg), 500);
  const result = await runLoad(op, Number(concurrencyArg), Number(secondsArg) * 1000);
  console.log(`${name} c=${concurrencyArg}: ${Math.round(result.opsPerSec)} ops/s, p50 ${result.p50.toFixed(1)} µs, p99 ${result.p99.toFixed(1)} µs`);
} finally {
  await client.close();
  await csc.close();
  await server.stop();
}
