// The whole token lifecycle, run the same way over every kind of client the specs cover.
import assert from 'node:assert/strict';
import type { MultiTokenRepository } from '../../src/index.js';

interface User {
  id: string;
}

/** Issues, verifies, lists and revokes tokens for `count` users through `tokens`. */
export async function exerciseLifecycle(tokens: MultiTokenRepository<User>, count = 2): Promise<void> {
  const users = Array.from({ length: count }, (_, i) => ({ id: `user-${i}` }));
  for (const user of users) {
    const a = await tokens.createToken(user, { device: 'phone', scopes: ['read'], meta: { os: 'ios' } });
    const b = await tokens.createToken(user, { device: 'laptop' });
    const c = await tokens.createToken(user);
    assert.equal(a.first, true);
    assert.equal(b.first, false);

    const found = await tokens.authenticate(a.token.key);
    assert.deepEqual(found?.user, user);
    assert.deepEqual(found?.token.scopes, ['read']);
    assert.deepEqual(found?.token.meta, { os: 'ios' });
    assert.deepEqual((await tokens.listTokens(user)).map((t) => t.id).sort(), [a.token.id, b.token.id, c.token.id].sort());

    assert.equal(await tokens.expireToken(a.token.key), true);
    assert.equal(await tokens.authenticate(a.token.key), null);
    assert.equal(await tokens.expireOtherTokens(user, b.token), 1);
    assert.equal(await tokens.authenticate(c.token.key), null);
    assert.equal(await tokens.expireTokenById(user, b.token.id), true);
    const d = await tokens.createToken(user);
    const e = await tokens.createToken(user);
    assert.equal(d.first, true);
    assert.equal(await tokens.expireAllTokens(user), 2, 'log out everywhere finds every token');
    assert.equal(await tokens.authenticate(d.token.key), null);
    assert.equal(await tokens.authenticate(e.token.key), null);
    assert.deepEqual(await tokens.listTokens(user), []);
  }
}
