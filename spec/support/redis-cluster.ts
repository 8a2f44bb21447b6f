// A throwaway 3-master Redis Cluster on free loopback ports, for the specs that need one; with
// `replicasPerMaster: 1`, each master has a replica (for failovers and `replicas`).
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startRedisServer, type RedisServer, type ServerOptions } from './redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  stop(): Promise<void>;
}

async function clusterState(port: number): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
  return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
}

/** Starts three masters (and their replicas) and joins them into one cluster, all 16384 slots covered. */
export async function startRedisCluster(options: { replicasPerMaster?: 0 | 1; server?: ServerOptions } = {}): Promise<RedisCluster> {
  const perMaster = options.replicasPerMaster ?? 0;
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < 3 * (1 + perMaster); i++) {
      nodes.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'], options.server));
    }
    try {
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(perMaster), '--cluster-yes']);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw code === 'ENOENT' ? new Error('redis-cli is not installed: install redis-tools (apt-get install redis-server)') : err;
    }
    for (let attempt = 0; attempt < 100; attempt++) {
      const states = await Promise.all(nodes.map((n) => clusterState(n.port)));
      if (states.every((state) => state === 'ok')) return { nodes, stop };
      await sleep(100);
    }
    throw new Error('the test cluster did not reach cluster_state:ok within 10 s');
  } catch (err) {
    await stop();
    throw err;
  }
}
