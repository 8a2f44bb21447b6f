// Redis memory a rotation leaves behind: bytes per rotated-away token kept for reuse detection.
// A fresh redis-server; users with one token each (the short device label of the memory
// section); INFO used_memory and MEMORY USAGE of the users' hashes before and after rotating
// every token `rotations` times (each rotation keeps one more rotated-away token, up to the
// family's cap), with a grace long enough that none is dropped during the run.
//   node --import tsx bench/rotation-memory.ts [users=10000] [rotations=4] [label=short|ua]
import { createClient, type RedisClientType } from 'redis';
import { startRedisServer } from '../spec/support/redis-server.js';
import { MultiTokenRepository } from '../src/index.js';
import { tagKey } from '../src/keys.js';
import { routingTag } from '../src/token.js';
import { ROTATED_KEPT } from '../src/rotation.js';
import { DEVICE, USER_AGENT } from './contenders.js';
import { forEachConcurrently } from './measure.js';
import { usedMemory } from './redis-info.js';

const [usersArg = '10000', rotationsArg = String(ROTATED_KEPT), labelArg = 'short'] = process.argv.slice(2);
const device = labelArg === 'ua' ? USER_AGENT : DEVICE;
const users = Number(usersArg);
const rotations = Math.min(Number(rotationsArg), ROTATED_KEPT);
const PREFIX = 'rmt:';
const SAMPLE = 200;

async function keyBytes(client: RedisClientType): Promise<number> {
  let total = 0;
  for (let i = 0; i < SAMPLE; i++) {
    total += (await client.memoryUsage(tagKey(PREFIX, routingTag(`user-${i}`)), { SAMPLES: 0 })) ?? 0;
  }
  return total / SAMPLE;
}

const server = await startRedisServer();
const client: RedisClientType = createClient({ url: server.url });
await client.connect();
try {
  const tokens = new MultiTokenRepository<{ id: string }>({ redis: client, keyPrefix: PREFIX });
  const keys: string[] = new Array<string>(users);
  await forEachConcurrently(users, 128, async (i) => {
    keys[i] = (await tokens.createToken({ id: `user-${i}` }, { device })).token.key;
  });
  const memoryBefore = await usedMemory(client);
  const keyBefore = await keyBytes(client);
  const encodingBefore = await client.objectEncoding(tagKey(PREFIX, routingTag('user-0')));
  for (let round = 0; round < rotations; round++) {
    await forEachConcurrently(users, 128, async (i) => {
      const rotated = await tokens.rotateToken(keys[i], { grace: 3600 });
      if (rotated === null) throw new Error('a rotation resolved to null');
      keys[i] = rotated.token.key;
    });
  }
  const memoryAfter = await usedMemory(client);
  const keyAfter = await keyBytes(client);
  const encodingAfter = await client.objectEncoding(tagKey(PREFIX, routingTag('user-0')));
  const kept = users * rotations;
  console.log(`device label: ${device}`);
  console.log(`${users} users, one token each, each rotated ${rotations} times: ${kept} rotated-away tokens kept`);
  console.log(`used_memory: ${memoryBefore} -> ${memoryAfter} bytes: ${((memoryAfter - memoryBefore) / kept).toFixed(1)} bytes per rotated-away token`);
  console.log(`MEMORY USAGE per user's hash: ${keyBefore.toFixed(1)} -> ${keyAfter.toFixed(1)} bytes: ${((keyAfter - keyBefore) / rotations).toFixed(1)} per rotated-away token`);
  console.log(`encoding: ${String(encodingBefore)} -> ${String(encodingAfter)}`);
} finally {
  client.destroy();
  await server.stop();
}
