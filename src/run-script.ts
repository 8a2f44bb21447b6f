import type { StoreClient } from './client.js';
import type { CallDeadline } from './deadline.js';
import { MultiTokenStoreError } from './errors.js';
import { normaliseInteger } from './replies.js';
import type { LuaScript } from './scripts.js';

// Running the package's Lua scripts: EVALSHA, EVAL on NOSCRIPT only, and for replicated writes
// a WAIT on the connection that made the write. Every step shares the call's deadline.

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

/**
 * Runs a write script, then waits on the same connection until `replicas` replicas hold it,
 * within the deadline `due`. Rejects with `ERR_MULTITOKEN_REPLICAS` when fewer acknowledge:
 * the master has applied the write, but a failover now could undo it.
 */
export async function runReplicatedScript(
  client: StoreClient,
  deadline: CallDeadline,
  script: LuaScript,
  keys: string[],
  args: string[],
  replicas: number,
  due: number = deadline.start(),
): Promise<unknown> {
  const [reply, acked] = await deadline.guard(
    () =>
      client.pinned(keys[0] ?? '', async (connection) => {
        let written: unknown;
        try {
          written = await connection.evalSha(script.sha1, keys, args);
        } catch (err) {
          if (!isNoScript(err)) throw err;
          written = await connection.eval(script.source, keys, args);
        }
        // WAIT 0 would block forever. The wait ends before the deadline, with room for the
        // server to notice (it checks blocked clients between event-loop turns, up to 100 ms
        // apart when idle; measured 100 ms late here), so a short count is reported as such
        // rather than as a timeout.
        const left = due - performance.now();
        const waitMs = Math.max(1, Math.floor(left > 400 ? left - 200 : left / 2));
        return [written, await connection.wait(replicas, waitMs)] as const;
      }),
    `EVALSHA ${script.name} + WAIT`,
    due,
  );
  const count = normaliseInteger(acked, 'WAIT');
  if (count < replicas) {
    throw new MultiTokenStoreError('ERR_MULTITOKEN_REPLICAS', `Only ${count} of ${replicas} replicas acknowledged the write in time`);
  }
  return reply;
}
