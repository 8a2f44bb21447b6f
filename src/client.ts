// The Redis clients the package works with, behind one small interface. The repository speaks
// only to a StoreClient; this module turns what the user passed into one.

/** The arguments of EVAL and EVALSHA, as node-redis takes them. */
export interface RedisScriptOptions {
  keys: string[];
  arguments: string[];
}

/**
 * The part of a node-redis client the package uses. A standalone client, a cluster, a
 * sentinel client or a pool from node-redis 4.6, 5 or 6 all fit, whatever their RESP version
 * or type mapping.
 */
export interface RedisClientLike {
  hGet(key: string, field: string): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<unknown>;
  evalSha(sha1: string, options: RedisScriptOptions): Promise<unknown>;
  eval(script: string, options: RedisScriptOptions): Promise<unknown>;
}

/** The commands the repository sends, whatever the client underneath. */
export interface StoreClient {
  hGet(key: string, field: string): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<unknown>;
  evalSha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(source: string, keys: string[], args: string[]): Promise<unknown>;
}

/** Whether `value` has the methods of a node-redis client that the package calls. */
export function isNodeRedisClient(value: unknown): value is RedisClientLike {
  if (value === null || typeof value !== 'object') return false;
  const client = value as Record<string, unknown>;
  return ['hGet', 'hmGet', 'evalSha', 'eval'].every((name) => typeof client[name] === 'function');
}

interface WithCommandOptions {
  withCommandOptions(options: { timeout: number }): unknown;
}

/**
 * A node-redis client seen through a view without its per-command timer. node-redis 5 and 6
 * arm a timer on every command (5 s by default, or the client's own `commandOptions.timeout`);
 * the repository has its own deadline, which governs instead, and the timer would halve
 * throughput. The view is derived once; the client the user holds is left as it is.
 * node-redis 4 has no such timer and no such view.
 */
export function nodeRedisStore(client: RedisClientLike): StoreClient {
  let view: RedisClientLike = client;
  if (typeof (client as Partial<WithCommandOptions>).withCommandOptions === 'function') {
    const derived = (client as unknown as WithCommandOptions).withCommandOptions({ timeout: 0 });
    if (isNodeRedisClient(derived)) view = derived;
  }
  return {
    hGet: (key, field) => view.hGet(key, field),
    hmGet: (key, fields) => view.hmGet(key, fields),
    evalSha: (sha1, keys, args) => view.evalSha(sha1, { keys, arguments: args }),
    eval: (source, keys, args) => view.eval(source, { keys, arguments: args }),
  };
}
