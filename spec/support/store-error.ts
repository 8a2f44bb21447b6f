// The store error a promise rejects with, for specs that read its code, message and cause.
import assert from 'node:assert/strict';
import { MultiTokenStoreError } from '../../src/errors.js';

/** Resolves to the `MultiTokenStoreError` that `promise` rejects with; fails on anything else. */
export async function storeErrorOf(promise: Promise<unknown>): Promise<MultiTokenStoreError> {
  const err = await promise.then(
    () => assert.fail('expected a store error'),
    (thrown: unknown) => thrown,
  );
  assert.ok(err instanceof MultiTokenStoreError, `a store error, not ${String(err)}`);
  return err;
}
