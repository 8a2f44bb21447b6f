import type { StoreClient } from './client.js';
import type { CallDeadline } from './deadline.js';
import { MultiTokenStoreError } from './errors.js';
import type { LuaScript } from './scripts.js';

// Running the package's Lua scripts: EVALSHA, EVAL on NOSCRIPT only, both within the call's
// deadline. Writes that wait (WAIT, WAITAOF) are waited-write.ts's.

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Runs a script with EVALSHA, and with EVAL only when the server answers NOSCRIPT (a restart,
 * a failover, SCRIPT FLUSH). Every other error is final. Both share the deadline `due`.
 */
export async function runScript(
  client: StoreClient,
  deadline: CallDeadline,
  script: LuaScript,
  keys: string[],
  args: string[],
  due: number = deadline.start(),
): Promise<unknown> {
  try {
    return await deadline.guard(() => client.evalSha(script.sha1, keys, args), `EVALSHA ${script.name}`, due);
  } catch (err) {
    if (!(err instanceof MultiTokenStoreError) || !isNoScript(err.cause)) throw err;
  }
  return deadline.guard(() => client.eval(script.source, keys, args), `EVAL ${script.name}`, due);
}
