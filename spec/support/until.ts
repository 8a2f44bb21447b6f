// Waiting for something another process or the server does in its own time, without sleeping
// a fixed guess: poll, and fail with what was awaited once the bound passes.
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `check` returns true, polling every 50 ms; rejects after `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
