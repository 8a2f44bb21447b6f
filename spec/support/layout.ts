// Where the specs find a user's tokens in Redis: the storage layout, read back from the outside.
import { tagKey } from '../../src/keys.js';
import { routingTag } from '../../src/token.js';

/** The HASH that holds every token of `userId` under `keyPrefix`. */
export function hashKeyOf(keyPrefix: string, userId: string): string {
  return tagKey(keyPrefix, routingTag(userId));
}
