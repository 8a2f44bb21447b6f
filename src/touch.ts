import type { EventEmitter } from 'node:events';
import type { StoreClient } from './client.js';
import type { CallDeadline } from './deadline.js';
import { MultiTokenStoreError } from './errors.js';
import type { Settings } from './options.js';
import { normaliseInteger } from './replies.js';
import { runScript } from './run-script.js';
import { TOUCH_TOKEN } from './scripts.js';
import type { MultiTokenEvents, TokenInfo } from './types.js';

// Recording a use of a token: lastUsedAt, and with an idle timeout its new end of life, written
// at most once per touchInterval per token by the touch script, which reads and writes only its
// own field. One touch per token at a time in this process.

/** Writes a token's last use for a repository. */
export class TokenToucher {
  private readonly settings: Pick<Settings<unknown>, 'touchMs' | 'idleMs'>;
  private readonly deadline: CallDeadline;
  private readonly events: EventEmitter<MultiTokenEvents>;
  // Tokens whose touch is in flight.
  private readonly touching = new Set<string>();

  constructor(settings: Pick<Settings<unknown>, 'touchMs' | 'idleMs'>, deadline: CallDeadline, events: EventEmitter<MultiTokenEvents>) {
    this.settings = settings;
    this.deadline = deadline;
    this.events = events;
  }

  /**
   * Records a use of `token`: resolves with the time written, 0 when nothing was (too soon, one
   * in flight, or a failure, reported as a `touchFailed` event), or -1 when the token is gone.
   * Never rejects.
   */
  async touch(store: StoreClient, hashKey: string, token: TokenInfo, due: number): Promise<number> {
    const flight = `${hashKey} ${token.id}`;
    if (this.touching.has(flight)) return 0;
    this.touching.add(flight);
    const { touchMs, idleMs } = this.settings;
    try {
      const reply = await runScript(store, this.deadline, TOUCH_TOKEN, [hashKey], [token.id, String(touchMs), String(idleMs ?? 0)], due);
      return normaliseInteger(reply, 'EVALSHA touch');
    } catch (err) {
      const error = err instanceof MultiTokenStoreError ? err : new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'Redis touch failed', { cause: err });
      try {
        this.events.emit('touchFailed', { id: token.id, userId: token.userId, error });
      } catch (thrown) {
        // A listener that throws is the app's bug: surface it as an uncaught error, as an
        // emitter with no caller to reject would.
        process.nextTick(() => {
          throw thrown;
        });
      }
      return 0;
    } finally {
      this.touching.delete(flight);
    }
  }
}
