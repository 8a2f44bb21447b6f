import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseCapacityArgs } from '../capacity/args.js';
import type { Workload } from '../capacity/model.js';

const run = promisify(execFile);
const EXAMPLE = ['--users', '100000000', '--devices', '3', '--verify-rps', '200000', '--login-rps', '500'];

function workloadOf(argv: string[]): Workload {
  const command = parseCapacityArgs(argv);
  assert.equal(command.help, false);
  if (command.help) throw new Error('unreachable');
  return command.workload;
}

describe('capacity arguments', () => {
  it('reads the issue\'s example, with the stated defaults', () => {
    const w = workloadOf(EXAMPLE);
    assert.equal(w.users, 100_000_000);
    assert.equal(w.devices, 3);
    assert.equal(w.verifyRps, 200_000);
    assert.equal(w.loginRps, 500);
    assert.equal(w.replicas, 1);
    assert.equal(w.labelBytes, 24);
    assert.equal(w.logoutRps, 500); // the login rate unless given
    assert.equal(w.maxShardBytes, 25e9);
  });

  it('takes --name=value and thousands separators', () => {
    const w = workloadOf(['--users=1_000_000', '--devices=1.5', '--verify-rps', '2,000', '--login-rps=5', '--replicas=0', '--label-bytes', '117']);
    assert.equal(w.users, 1_000_000);
    assert.equal(w.devices, 1.5);
    assert.equal(w.verifyRps, 2000);
    assert.equal(w.replicas, 0);
    assert.equal(w.labelBytes, 117);
  });

  it('names every missing required option', () => {
    assert.throws(() => parseCapacityArgs(['--users', '10']), /missing --devices, --verify-rps, --login-rps/);
  });

  it('refuses unknown options, bare words, repeats and options without a value', () => {
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--user', '5']), /unknown option --user/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, 'extra']), /unexpected argument "extra"/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--users', '5']), /--users is given twice/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--replicas']), /--replicas needs a value/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--replicas', '--label-bytes', '3']), /--replicas needs a value/);
  });

  it('refuses values that are not numbers, not whole where they must be, or out of range', () => {
    const swap = (flag: string, value: string): string[] => {
      const argv = EXAMPLE.filter((_, i) => EXAMPLE[i] !== flag && EXAMPLE[i - 1] !== flag);
      return [...argv, flag, value];
    };
    assert.throws(() => parseCapacityArgs(swap('--users', 'lots')), /--users must be a number/);
    assert.throws(() => parseCapacityArgs(swap('--users', '-5')), /--users must be a number/);
    assert.throws(() => parseCapacityArgs(swap('--users', '2.5')), /--users must be a whole number/);
    assert.throws(() => parseCapacityArgs(swap('--users', '0')), /--users must be between 1 and/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--touch-fraction', '1.5']), /--touch-fraction must be between 0 and 1/);
    assert.throws(() => parseCapacityArgs([...EXAMPLE, '--label-bytes', '1e400']), /--label-bytes must be a finite number/);
  });

  it('asks for help', () => {
    assert.deepEqual(parseCapacityArgs([...EXAMPLE, '--help']), { help: true });
  });
});

describe('npm run capacity', () => {
  const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'capacity/cli.ts', ...args], { cwd: new URL('..', import.meta.url) });

  it('prints the plan of the issue\'s example from the committed constants', async () => {
    const { stdout } = await cli([...EXAMPLE, '--replicas', '1', '--label-bytes', '24']);
    assert.match(stdout, /100,000,000 users × 3 devices = 300,000,000 tokens/);
    assert.match(stdout, /shards for memory/);
    assert.match(stdout, /constants from bench-/);
  });

  it('exits 2 with the reason on a bad argument', async () => {
    await assert.rejects(cli(['--users', 'many']), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /--users must be a number/);
      return true;
    });
  });
});
