import { MultiTokenStoreError } from './errors.js';

// Reading Redis replies defensively: RESP2 and RESP3, strings or Buffers, numbers or numeric
// strings. A reply of another shape is a store error, never a guess.

/** Raised when a reply does not have the shape a command promises. */
export function badReply(command: string): MultiTokenStoreError {
  return new MultiTokenStoreError('ERR_MULTITOKEN_REPLY', `Unexpected reply to Redis ${command}`);
}

/** Reads a bulk string reply (string or Buffer); null stays null. */
export function normaliseString(reply: unknown, command: string): string | null {
  if (typeof reply === 'string' || reply === null) return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw badReply(command);
}

/** Reads an integer reply (number, bigint or numeric string). */
export function normaliseInteger(reply: unknown, command: string): number {
  const text = typeof reply === 'number' ? null : normaliseString(typeof reply === 'bigint' ? String(reply) : reply, command);
  // Only digits make an integer: Number() would read a nil reply, '' or ' ' as 0.
  const value = typeof reply === 'number' ? reply : text !== null && /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw badReply(command);
  return value;
}

/** Reads an array reply whose items are strings. */
export function normaliseStrings(reply: unknown, command: string): string[] {
  if (!Array.isArray(reply)) throw badReply(command);
  return reply.map((item: unknown) => {
    const value = normaliseString(item, command);
    if (value === null) throw badReply(command);
    return value;
  });
}
