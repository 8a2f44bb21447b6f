import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONSTANT_NAMES, readConstants, type Constants, type ConstantsFile, type Measured } from '../capacity/constants.js';
import { EXAMPLES, exampleWorkload, renderGenerated, spliceGenerated, START_MARKER, END_MARKER } from '../capacity/doc.js';
import { atSize, datasetBytes, dictTableBytes, encodingFor, plan, recordBytes, type Workload } from '../capacity/model.js';
import { renderPlan } from '../capacity/render.js';

const RUN = 'spec-run';

/** Every constant at a round value the specs can do sums with; `overrides` by name. */
function constants(overrides: Record<string, number> = {}): Constants {
  const map = new Map<string, Measured>();
  for (const name of CONSTANT_NAMES) {
    let value = 1;
    if (name.endsWith('.cpuUs')) value = 10;
    if (name.endsWith('.inBytes') || name.endsWith('.outBytes')) value = 50;
    map.set(name, { value: overrides[name] ?? value, unit: 'x', run: RUN, how: 'spec' });
  }
  const fixed: Record<string, number> = {
    'memory.listpack.perUserBytes': 100,
    'memory.listpack.perTokenBytes': 90,
    'memory.listpack.valueBytes': 56,
    'memory.hashtable.perUserBytes': 160,
    'memory.hashtable.perTokenBytes': 240,
    'memory.hashtable.valueBytes': 150,
    'memory.recordFixedBytes': 21,
    'memory.lastUsedBytes': 8,
    'memory.listpackValueMax': 64,
    'memory.listpackEntriesMax': 512,
    'memory.clusterKeyBytes': 16,
    'wire.verifyValueBytes': 56,
    'csc.invalidationsPerWrite': 1,
    'csc.invalidationBytes': 44,
  };
  for (const [name, value] of Object.entries({ ...fixed, ...overrides })) map.set(name, { value, unit: 'x', run: RUN, how: 'spec' });
  return map;
}

function workload(overrides: Partial<Workload> = {}): Workload {
  return {
    users: 1000,
    devices: 1,
    verifyRps: 0,
    loginRps: 0,
    logoutRps: 0,
    listRps: 0,
    touchFraction: 0,
    touchIntervalSeconds: 60,
    replicas: 0,
    labelBytes: 23,
    userIdBytes: 4,
    fragmentation: 1,
    copyOnWrite: 0,
    maxShardBytes: 1e12,
    cpuTarget: 0.5,
    appInstances: 1,
    cacheFenceMs: 100,
    ...overrides,
  };
}

function fileWith(table: Record<string, Partial<Measured>>, runs: ConstantsFile['runs'] = { [RUN]: {} as ConstantsFile['runs'][string] }): unknown {
  return { schema: 1, runs, constants: table, evidence: {} };
}

function completeTable(): Record<string, Measured> {
  return Object.fromEntries([...constants()].map(([name, m]) => [name, m]));
}

describe('capacity: the committed constants', () => {
  const text = readFileSync(new URL('../capacity/constants.json', import.meta.url), 'utf8');

  it('has every constant the model reads, each naming a run the file records', () => {
    const { file, constants: read } = readConstants(JSON.parse(text) as unknown);
    for (const name of CONSTANT_NAMES) {
      const entry = read.get(name);
      assert.ok(entry !== undefined, `${name} is missing`);
      const run = file.runs[entry.run];
      assert.ok(run !== undefined, `${name} names no recorded run`);
      assert.equal(run.loadAverage.start.length, 3, `the run of ${name} records its load average`);
      assert.ok(run.command.startsWith('npm run bench'), `the run of ${name} says which command measured it`);
    }
  });

  it('prints a plan for both worked examples of CAPACITY.md', () => {
    const { constants: read } = readConstants(JSON.parse(text) as unknown);
    for (const example of EXAMPLES) {
      const p = plan(read, exampleWorkload(example.args));
      assert.ok(p.datasetBytes > 0 && Number.isFinite(p.totalRamBytes));
      assert.ok(p.uncached.shards >= 1);
    }
  });
});

describe('capacity: reading a constants file', () => {
  it('accepts a complete file', () => {
    assert.equal(readConstants(fileWith(completeTable())).constants.size, CONSTANT_NAMES.length);
  });

  it('names a missing constant', () => {
    const table = completeTable();
    delete table['verify.1.cpuUs'];
    assert.throws(() => readConstants(fileWith(table)), /verify\.1\.cpuUs is missing/);
  });

  it('refuses a constant whose run the file does not record', () => {
    const table = completeTable();
    table['touch.10.cpuUs'] = { value: 3, unit: 'µs', run: 'elsewhere', how: 'x' };
    assert.throws(() => readConstants(fileWith(table)), /touch\.10\.cpuUs names no run/);
  });

  it('refuses a value that is not a finite number of at least 0', () => {
    for (const value of [-1, Number.NaN, Infinity]) {
      const table = completeTable();
      table['memory.lastUsedBytes'] = { value, unit: 'B', run: RUN, how: 'x' };
      assert.throws(() => readConstants(JSON.parse(JSON.stringify(fileWith(table))) as unknown), /memory\.lastUsedBytes/);
    }
  });
});

describe('capacity: the formulae', () => {
  it('sizes the keyspace tables by powers of two, two tables of 8-byte buckets', () => {
    assert.equal(dictTableBytes(0), 0);
    assert.equal(dictTableBytes(3), 2 * 8 * 4);
    assert.equal(dictTableBytes(1024), 2 * 8 * 1024);
    assert.equal(dictTableBytes(1025), 2 * 8 * 2048);
    assert.equal(dictTableBytes(1_000_000), 2 * 8 * 1_048_576);
  });

  it('interpolates per-size costs between 1, 10 and 100 tokens per user, and extrapolates past 100', () => {
    const c = constants({ 'create.1.cpuUs': 20, 'create.10.cpuUs': 50, 'create.100.cpuUs': 230 });
    const at = (d: number): number => atSize(c, (size) => `create.${size}.cpuUs`, d);
    assert.equal(at(1), 20);
    assert.equal(at(10), 50);
    assert.equal(at(100), 230);
    assert.equal(at(4), 30);
    assert.equal(at(55), 140);
    assert.equal(at(200), 430);
    assert.equal(at(0.5), 20);
  });

  it('keeps a hash in listpack while its records fit hash-max-listpack-value and its entries the count', () => {
    const c = constants();
    assert.equal(encodingFor(c, 64, 3), 'listpack');
    assert.equal(encodingFor(c, 65, 3), 'hashtable');
    assert.equal(encodingFor(c, 40, 513), 'hashtable');
  });

  it('counts a record as its fixed part, the user id, the label, and last-used once touched', () => {
    const c = constants();
    assert.equal(recordBytes(c, 12, 23, false), 21 + 12 + 23);
    assert.equal(recordBytes(c, 12, 23, true), 21 + 12 + 23 + 8);
  });

  it('prices memory as users × (per user + devices × per token) plus the keyspace tables', () => {
    const c = constants();
    // A 56-byte record, as measured: no correction.
    const one = datasetBytes(c, 1000, 3, 56, 1);
    assert.equal(one.encoding, 'listpack');
    assert.equal(one.bytes, 1000 * (100 + 3 * 90) + dictTableBytes(1000));
    // Six bytes longer: six bytes more per token.
    assert.equal(datasetBytes(c, 1000, 3, 62, 1).bytes - one.bytes, 1000 * 3 * 6);
    // Past 64 bytes the hash is a hashtable, anchored at its own measured record.
    assert.equal(datasetBytes(c, 1000, 3, 150, 1).bytes, 1000 * (160 + 3 * 240) + dictTableBytes(1000));
    // On 4 shards: cluster bookkeeping per key, and each shard's own tables.
    assert.equal(datasetBytes(c, 1000, 3, 56, 4).bytes, 1000 * (100 + 16 + 3 * 90) + 4 * dictTableBytes(250));
  });
});

describe('capacity: the plan', () => {
  it('adds fragmentation, fork headroom and replicas to the dataset', () => {
    const c = constants();
    const p = plan(c, workload({ users: 1000, devices: 2, userIdBytes: 4, labelBytes: 23, fragmentation: 1.25, copyOnWrite: 0.5, replicas: 2 }));
    // Record once touched: 21 + 4 + 23 + 8 = 56, the measured listpack record.
    assert.equal(p.valueBytes, 56);
    const dataset = 1000 * (100 + 2 * 90) + dictTableBytes(1000);
    assert.equal(p.datasetBytes, dataset);
    assert.equal(p.rssBytes, dataset * 1.25);
    assert.equal(p.ramPerCopyBytes, dataset * 1.25 * 1.5);
    assert.equal(p.totalRamBytes, dataset * 1.25 * 1.5 * 3);
  });

  it('splits memory over as many shards as the largest shard allows', () => {
    const p = plan(constants(), workload({ users: 1_000_000, devices: 3, maxShardBytes: 100e6, fragmentation: 1.2 }));
    assert.ok(p.rssBytes / p.shardsForMemory <= 100e6);
    assert.ok(p.rssBytes / (p.shardsForMemory - 1) > 100e6);
    assert.equal(p.uncached.shards, p.shardsForMemory);
  });

  it('needs main-thread CPU of rate × CPU per operation, and a shard per core at the target', () => {
    const c = constants({ 'verify.1.cpuUs': 15, 'touch.1.cpuUs': 30, 'create.1.cpuUs': 40, 'revoke.1.cpuUs': 35 });
    const p = plan(c, workload({ users: 10_000_000, verifyRps: 100_000, loginRps: 1000, logoutRps: 500, touchFraction: 0.1, cpuTarget: 0.5 }));
    const cores = (100_000 * 15 + 10_000 * 30 + 1000 * 40 + 500 * 35) / 1e6;
    assert.ok(Math.abs(p.uncached.cores - cores) < 1e-9);
    assert.equal(p.uncached.shardsForCpu, Math.ceil(cores / 0.5));
    assert.equal(p.uncached.shards, Math.max(p.shardsForMemory, p.uncached.shardsForCpu));
  });

  it('touches at most once per token per touch interval', () => {
    const p = plan(constants(), workload({ users: 600, devices: 1, verifyRps: 100_000, touchFraction: 0.5, touchIntervalSeconds: 60 }));
    assert.equal(p.touchesPerSecond, 10);
  });

  it('prices bandwidth from bytes per operation, replication per write and replica', () => {
    const c = constants({ 'touch.1.replBytes': 130, 'create.1.replBytes': 200, 'revoke.1.replBytes': 60 });
    const p = plan(c, workload({ users: 1e6, verifyRps: 1000, loginRps: 10, logoutRps: 5, touchFraction: 0.1, replicas: 2 }));
    // verify: 50 + 50 bytes (record as measured: 56 B); touch, create, revoke: 100 each.
    assert.equal(p.uncached.clientBytesPerSecond, 1000 * 100 + 100 * 100 + 10 * 100 + 5 * 100);
    assert.equal(p.uncached.replicationBytesPerSecond, 2 * (100 * 130 + 10 * 200 + 5 * 60));
  });

  it('with client-side caching and sticky routing, sends Redis one read per write instead of every verification', () => {
    const p = plan(constants(), workload({ users: 1e6, verifyRps: 100_000, touchFraction: 0.05, appInstances: 10, cacheFenceMs: 100 }));
    // 5,000 touches/s, each invalidating one instance's copy: 5,000 misses, 95% answered in process.
    assert.equal(p.cachedSticky.loads.find((l) => l.operation === 'verify')?.perSecond, 5000);
    assert.ok(Math.abs(p.cacheHitShareSticky - 0.95) < 1e-9);
    assert.equal(p.cachedSticky.invalidationsPerSecond, 5000);
    // The fence: each instance PINGs every half cacheFence.
    assert.equal(p.cachedSticky.loads.find((l) => l.operation === 'ping')?.perSecond, 200);
    assert.ok(p.cachedSticky.cores < p.uncached.cores);
  });

  it('with requests spread over more instances than a token has verifications per touch, caching saves no reads', () => {
    const p = plan(constants(), workload({ users: 1e6, verifyRps: 100_000, touchFraction: 0.1, appInstances: 20 }));
    assert.equal(p.cacheHolders, 10);
    assert.equal(p.cacheHitShare, 0);
    assert.ok(p.cached.cores > p.uncached.cores);
  });

  it('says when records are too long for listpack', () => {
    const p = plan(constants(), workload({ labelBytes: 40 }));
    assert.equal(p.encoding, 'hashtable');
    assert.ok(p.notes.some((note) => note.includes('hash-max-listpack-value')));
  });

  it('names the run of its constants when printed', () => {
    const c = constants();
    assert.match(renderPlan(plan(c, workload({ verifyRps: 10 })), c), new RegExp(RUN));
  });
});

describe('capacity: the generated part of CAPACITY.md', () => {
  it('replaces only what is between its markers', () => {
    const document = `# Capacity\n\nby hand\n\n${START_MARKER}\nold\n${END_MARKER}\n\nafter\n`;
    const spliced = spliceGenerated(document, `${START_MARKER}\nnew\n${END_MARKER}`);
    assert.equal(spliced, `# Capacity\n\nby hand\n\n${START_MARKER}\nnew\n${END_MARKER}\n\nafter\n`);
  });

  it('shows both worked examples with their commands', () => {
    const file = fileWith(completeTable(), {
      [RUN]: { command: 'npm run bench', startedAt: 'now', seconds: 1, commit: 'abc', redis: '7', node: 'v20', cpus: 2, loadAverage: { start: [1, 2, 3], end: [1, 2, 3] }, tokenFormat: { tagLength: 6, secretLength: 43, checksumLength: 6, tokenIdLength: 22 } },
    }) as ConstantsFile;
    const generated = renderGenerated(file, readConstants(file).constants, undefined);
    for (const example of EXAMPLES) assert.ok(generated.includes(`npm run capacity -- ${example.args}`));
    assert.ok(generated.includes('load average (1, 5, 15 min) 1, 2, 3'));
  });
});
