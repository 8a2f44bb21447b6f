// Client-side caching: how many invalidation messages Redis sends per write, per app instance.
// Each "instance" is a raw RESP3 connection with CLIENT TRACKING on (default mode, as
// node-redis's client-side cache uses it), so every push frame is counted byte for byte.
import { connect, type Socket } from 'node:net';
import type { RedisClientType } from 'redis';
import { startRedisServer } from '../spec/support/redis-server.js';
import { WRITE_OPERATIONS, type WriteOperation } from '../capacity/constants.js';
import { DEVICE, plainClient } from './contenders.js';
import { PREFIX, syntheticUserId } from './capacity-ops.js';
import { keys as keyMath, pkg, scripts, token as tokenMath } from './package.js';

const INSTANCES = 3;

/** A RESP3 frame, as far as counting needs: its type byte, its bytes, and its items. */
interface Frame {
  type: string;
  bytes: number;
  items: (Frame | string)[];
}

/** Parses one RESP3 frame at `at`; null when the buffer holds no whole frame yet. */
function parseFrame(buffer: Buffer, at: number): { frame: Frame; end: number } | null {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(buffer[at]!);
  const head = buffer.toString('utf8', at + 1, lineEnd);
  let end = lineEnd + 2;
  const items: (Frame | string)[] = [];
  if (type === '$' || type === '=' || type === '!') {
    const length = Number(head);
    if (length >= 0) {
      if (buffer.length < end + length + 2) return null;
      items.push(buffer.toString('utf8', end, end + length));
      end += length + 2;
    }
  } else if (type === '*' || type === '>' || type === '~' || type === '%' || type === '|') {
    const count = Number(head) * (type === '%' || type === '|' ? 2 : 1);
    for (let i = 0; i < count; i++) {
      const inner = parseFrame(buffer, end);
      if (inner === null) return null;
      items.push(inner.frame);
      end = inner.end;
    }
  } else {
    items.push(head);
  }
  return { frame: { type, bytes: end - at, items }, end };
}

/** One app instance's caching connection. */
class TrackingConnection {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: ((frame: Frame) => void)[] = [];
  invalidations = 0;
  invalidationBytes = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  static async open(port: number): Promise<TrackingConnection> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const connection = new TrackingConnection(socket);
    await connection.command('HELLO', '3');
    const tracking = await connection.command('CLIENT', 'TRACKING', 'ON');
    if (tracking.type !== '+') throw new Error('CLIENT TRACKING ON failed');
    return connection;
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let at = 0;
    for (;;) {
      const parsed = parseFrame(this.buffer, at);
      if (parsed === null) break;
      at = parsed.end;
      const { frame } = parsed;
      if (frame.type === '>') {
        const kind = frame.items[0];
        if (typeof kind === 'object' && kind.items[0] === 'invalidate') {
          this.invalidations += 1;
          this.invalidationBytes += frame.bytes;
        }
      } else {
        this.waiting.shift()?.(frame);
      }
    }
    this.buffer = this.buffer.subarray(at);
  }

  command(...args: string[]): Promise<Frame> {
    const frame = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface CscResult {
  instances: number;
  writesPerOperation: number;
  /** Invalidations received per write per instance that had read the key, by operation. */
  perWrite: Record<WriteOperation, number>;
  /** The same for a second write with no read in between (tracking is one-shot): expected 0. */
  secondWrite: number;
  /** Per write, by an instance that never read the key: expected 0. */
  neverRead: number;
  /** Bytes of one invalidation push. */
  invalidationBytes: number;
}

/** Counts invalidation pushes per write on INSTANCES tracking connections. */
export async function measureCsc(writes: number): Promise<CscResult> {
  const server = await startRedisServer();
  const client: RedisClientType = await plainClient(server.url);
  const instances: TrackingConnection[] = [];
  let bystander: TrackingConnection | undefined;
  try {
    for (let i = 0; i < INSTANCES; i++) instances.push(await TrackingConnection.open(server.port));
    bystander = await TrackingConnection.open(server.port);
    const repository = new pkg.MultiTokenRepository({ redis: client, keyPrefix: PREFIX, maxTokensPerUser: null });
    const user = { id: syntheticUserId('s', 0) };
    const hashKey = keyMath.tagKey(PREFIX, tokenMath.routingTag(user.id));
    const settle = async (): Promise<void> => {
      // An invalidation goes out before the reply to any later command on that connection.
      for (const c of [...instances, bystander!]) await c.command('PING');
    };
    const readAll = async (id: string): Promise<void> => {
      for (const c of instances) await c.command('HGET', hashKey, id);
    };
    const counted = (): number => instances.reduce((s, c) => s + c.invalidations, 0);
    const perWrite = {} as Record<WriteOperation, number>;
    let secondWriteSeen = 0;
    let secondWrites = 0;
    for (const op of WRITE_OPERATIONS) {
      let seen = 0;
      for (let w = 0; w < writes; w++) {
        const { token } = await repository.createToken(user, { device: DEVICE });
        await settle();
        await readAll(token.id);
        const before = counted();
        if (op === 'create') await repository.createToken(user, { device: DEVICE });
        else if (op === 'touch') await client.eval(scripts.TOUCH_TOKEN.source, { keys: [hashKey], arguments: [token.id, '0', '0'] });
        else if (op === 'revoke') await repository.expireToken(token.key);
        else await repository.expireAllTokens(user);
        await settle();
        seen += counted() - before;
        // A second write with no read in between.
        const again = counted();
        await repository.createToken(user, { device: DEVICE });
        await settle();
        secondWriteSeen += counted() - again;
        secondWrites += 1;
      }
      perWrite[op] = seen / (writes * INSTANCES);
    }
    const totalInvalidations = counted();
    const totalBytes = instances.reduce((s, c) => s + c.invalidationBytes, 0);
    return {
      instances: INSTANCES,
      writesPerOperation: writes,
      perWrite,
      secondWrite: secondWriteSeen / (secondWrites * INSTANCES),
      neverRead: bystander.invalidations / (writes * WRITE_OPERATIONS.length * 2),
      invalidationBytes: totalInvalidations === 0 ? 0 : totalBytes / totalInvalidations,
    };
  } finally {
    for (const c of instances) c.close();
    bystander?.close();
    await client.close().catch(() => {});
    await server.stop();
  }
}
