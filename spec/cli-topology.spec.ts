// The admin CLI tells a cluster from a single server without INFO (CLUSTER, or a MOVED reply),
// says plainly when it cannot tell, and names a rejected TLS certificate instead of a timeout.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, createCluster, type RedisClientType } from 'redis';
import { runCli } from '../src/cli/run.js';
import { MultiTokenRepository } from '../src/index.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { startRedisServer, uniquePrefix } from './support/redis-server.js';

const PASSWORD = 'cli-topology-password';

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env: {} });
  return { status, stdout, stderr };
}

describe('the CLI on a cluster whose ACL refuses INFO', () => {
  let cluster: RedisCluster;
  const admins: RedisClientType[] = [];
  const prefix = uniquePrefix('cli-acl');
  const USERS = 12;

  before(async () => {
    cluster = await startRedisCluster();
    for (const node of cluster.nodes) {
      const admin: RedisClientType = createClient({ url: node.url });
      await admin.connect();
      admins.push(admin);
      // A cluster client needs CLUSTER SLOTS (or SHARDS) to find the masters; nothing else of CLUSTER.
      await admin.sendCommand(['ACL', 'SETUSER', 'noinfo', 'on', `>${PASSWORD}`, '~*', '+@all', '-info', '-cluster', '+cluster|slots', '+cluster|shards']);
      await admin.sendCommand(['ACL', 'SETUSER', 'nothing', 'on', `>${PASSWORD}`, '~*', '+@all', '-info', '-cluster', '-exists']);
    }
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    await client.connect();
    const tokens = new MultiTokenRepository({ redis: client, keyPrefix: prefix });
    for (let i = 0; i < USERS; i++) await tokens.createToken({ id: `user-${i}` });
    await client.close();
  });
  after(async () => {
    for (const admin of admins) admin.destroy();
    await cluster.stop();
  });

  it('detects the cluster from a MOVED reply and counts every master’s hashes', async () => {
    const url = `redis://noinfo:${PASSWORD}@127.0.0.1:${cluster.nodes[0]!.port}`;
    const result = await run(['stats', '--url', url, '--prefix', prefix, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const stats = JSON.parse(result.stdout) as { cluster: boolean; keys: number; users: number };
    assert.equal(stats.cluster, true);
    assert.equal(stats.users, USERS, 'every user, on every master');
  });

  it('says it could not tell, and exits 1, when INFO, CLUSTER and EXISTS are all refused', async () => {
    const url = `redis://nothing:${PASSWORD}@127.0.0.1:${cluster.nodes[0]!.port}`;
    const result = await run(['stats', '--url', url, '--prefix', prefix]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /could not tell whether .* is a cluster.*--cluster/);
    assert.equal(result.stderr.includes(PASSWORD), false, 'no password in the message');
  });
});

describe('the CLI over TLS', () => {
  it('names a rejected certificate rather than reporting a timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rmt-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const plain = await startRedisServer();
    await plain.stop();
    // A TLS-only server on the port the plain one had (free again), with a self-signed certificate.
    const tls = await startRedisServer(['--port', '0', '--tls-port', String(plain.port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no']);
    try {
      const result = await run(['stats', '--url', `rediss://127.0.0.1:${plain.port}`, '--timeout', '1500']);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /TLS certificate of Redis at rediss:\/\/127\.0\.0\.1:\d+ was rejected: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
    } finally {
      await tls.stop();
    }
  });
});
