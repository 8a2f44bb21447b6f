// The strategies under test, built the same way in the bench process and in the HTTP apps:
// ours, ours over a client-side-cached connection, passport-http-bearer doing SHA-256 then GET
// of a JSON user, passport-jwt with HS256, a strategy that succeeds at once, and bare HGETs of
// the token's field as the floor of one round trip.
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import PassportStrategy from 'passport-strategy';
import { createClient, type RedisClientType } from 'redis';
import type { DefaultUser } from '../src/options.js';
import { startRedisServer } from '../spec/support/redis-server.js';
import type { MultiTokenRepository } from '../src/repository.js';
import type { RedisMultiTokenStrategy } from '../src/strategy.js';
import { keys, pkg, token as tokenMath } from './package.js';

/** Every key the bench writes for verification starts with this, so setup can be redone. */
export const KEY_PREFIX = 'bench:';
/** Where passport-http-bearer's JSON users live: `bearer:<sha256 hex>`. */
export const BEARER_PREFIX = 'bearer:';
/** The HS256 key of the passport-jwt contender. */
export const JWT_SECRET = 'bench-only-hs256-secret-of-32-bytes!';
/** A realistic short device label, the same in every layout. */
export const DEVICE = 'Firefox 128 on macOS 14';
/** A real browser User-Agent (117 characters), for what a long device label costs. */
export const USER_AGENT =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
export const USER_ID = 'user-1';
const TTL_SECONDS = 14 * 86400;

/** The tokens each contender verifies, made once by the bench and handed to the HTTP apps. */
export interface Tokens {
  /** Ours: a live `rmt_` token. */
  ours: string;
  /** The Redis key of the hash that holds our token's record, for the bare HGET contenders. */
  oursRecordKey: string;
  /** The field of our token in that hash. */
  oursField: string;
  /** An opaque random token whose SHA-256 names a JSON user. */
  bearer: string;
  /** An HS256 JWT. */
  jwt: string;
}

/** A request as Passport strategies read it. */
export interface BenchRequest {
  headers: Record<string, string>;
  query: Record<string, string>;
  body: Record<string, string>;
}

export type Outcome = 'success' | 'fail';

interface PassportActions {
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(err: unknown): void;
}

type Authenticate = (this: PassportActions, req: BenchRequest, options: object) => void;

/** A request carrying `token` in the Authorization header. */
export function bearerRequest(token: string): BenchRequest {
  return { headers: { authorization: `Bearer ${token}` }, query: {}, body: {} };
}

/**
 * Calls `strategy.authenticate` the way Passport does: on `Object.create(strategy)` with
 * `success`, `fail` and `error` attached, one fresh object per request.
 */
export function passportCall(strategy: object, req: BenchRequest): () => Promise<Outcome> {
  const authenticate = (strategy as { authenticate: Authenticate }).authenticate;
  const options = { session: false };
  return () =>
    new Promise<Outcome>((resolve, reject) => {
      const self = Object.create(strategy) as PassportActions;
      self.success = () => resolve('success');
      self.fail = () => resolve('fail');
      self.error = (err: unknown) => reject(err instanceof Error ? err : new Error('strategy error', { cause: err }));
      authenticate.call(self, req, options);
    });
}

/** A plain node-redis 6 client (RESP2), connected. */
export async function plainClient(url: string): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A node-redis 6 client with server-assisted client-side caching (RESP3), connected. */
export async function cachingClient(url: string): Promise<ReturnType<typeof createCachingClient>> {
  const client = createCachingClient(url);
  client.on('error', () => {});
  await client.connect();
  return client;
}

function createCachingClient(url: string) {
  return createClient({ url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 10000 } });
}

export type CachingClient = Awaited<ReturnType<typeof cachingClient>>;

/**
 * The view of a node-redis client without its per-command timer: what the repository itself
 * uses (node-redis 6 arms a 5 s `AbortSignal.timeout()` per command by default).
 */
export function withoutTimer<C extends RedisClientType | CachingClient>(client: C): C {
  return client.withCommandOptions({ timeout: 0 }) as unknown as C;
}

/** A repository of ours on `client`, with the bench's key prefix unless told otherwise. */
export function oursRepository(
  client: RedisClientType | CachingClient,
  options: { maxTokensPerUser?: number | null; keyPrefix?: string } = {},
): MultiTokenRepository {
  return new pkg.MultiTokenRepository({ redis: client, keyPrefix: KEY_PREFIX, ...options });
}

/** Our strategy over `client`. */
export function oursStrategy(client: RedisClientType | CachingClient): RedisMultiTokenStrategy<DefaultUser> {
  return new pkg.RedisMultiTokenStrategy({ repository: oursRepository(client) });
}

/** The JSON user passport-http-bearer's verify reads, and the plain layout stores. */
export function bearerRecord(userId: string, now: number, device: string = DEVICE): string {
  return JSON.stringify({ id: userId, device, createdAt: now, lastUsedAt: now, expiresAt: now + TTL_SECONDS * 1000 });
}

/** The hex SHA-256 of a token: how a hashed-at-rest bearer setup names its record. */
export function sha256Hex(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** passport-http-bearer with the usual hashed lookup: SHA-256 of the token, GET, JSON.parse. */
export function bearerStrategy(client: RedisClientType): BearerStrategy<(token: string, done: (err: unknown, user?: unknown) => void) => void> {
  return new BearerStrategy((token: string, done: (err: unknown, user?: unknown) => void) => {
    client.get(BEARER_PREFIX + sha256Hex(token)).then(
      (json) => done(null, json === null ? false : (JSON.parse(json) as unknown)),
      (err: unknown) => done(err),
    );
  });
}

/**
 * passport-jwt with HS256, the payload's `sub` as the user. `secret: 'string'` passes the key
 * as its README does; jsonwebtoken 9 then tries `createPublicKey` on it for every token, and
 * that throw is most of the cost. `'key'` hands it a ready KeyObject, which skips the attempt.
 */
export function jwtStrategy(secret: 'string' | 'key'): JwtStrategy {
  // passport-jwt's types say string or Buffer; jsonwebtoken takes a KeyObject as it is.
  const secretOrKey = secret === 'string' ? JWT_SECRET : (createSecretKey(Buffer.from(JWT_SECRET)) as unknown as Buffer);
  return new JwtStrategy(
    { jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey, algorithms: ['HS256'] },
    (payload: { sub?: unknown }, done: (err: unknown, user?: unknown) => void) => {
      done(null, typeof payload.sub === 'string' ? { id: payload.sub } : false);
    },
  );
}

/**
 * A Passport strategy that succeeds at once with `{ id }`, reading nothing: the cost of
 * Passport's middleware alone, the HTTP baseline of any strategy.
 */
export class InstantStrategy extends PassportStrategy.Strategy {
  name = 'instant';

  override authenticate(): void {
    this.success({ id: USER_ID });
  }
}

/**
 * The least a Passport strategy for hashed tokens can do: take the header, derive the token's
 * id (our digest), one bare HGET without a per-command timer, success. No format or checksum
 * check, no deadline, no expiry check, no user lookup: the attainable floor of ours.
 */
export class MinimalHashedStrategy extends PassportStrategy.Strategy {
  name = 'minimal';
  private readonly read: (id: string) => Promise<string | null>;

  constructor(read: (id: string) => Promise<string | null>) {
    super();
    this.read = read;
  }

  override authenticate(req: { headers: { authorization?: string | undefined } }): void {
    const id = tokenMath.tokenId((req.headers.authorization ?? '').slice(7), null);
    this.read(id).then(
      (stored) => (stored === null ? this.fail(401) : this.success({ id: USER_ID })),
      (err: unknown) => this.error(err instanceof Error ? err : new Error('read failed')),
    );
  }
}

/** Writes one token of each kind for {@link USER_ID}. */
export async function seedTokens(client: RedisClientType): Promise<Tokens> {
  const repository = oursRepository(client);
  const { token } = await repository.createToken({ id: USER_ID }, { device: DEVICE });
  const bearer = randomBytes(32).toString('base64url');
  await client.set(BEARER_PREFIX + sha256Hex(bearer), bearerRecord(USER_ID, Date.now()), { EX: TTL_SECONDS });
  return {
    ours: token.key,
    oursRecordKey: keys.tagKey(KEY_PREFIX, tokenMath.routingTag(USER_ID)),
    oursField: token.id,
    bearer,
    jwt: jwt.sign({ sub: USER_ID }, JWT_SECRET, { algorithm: 'HS256', expiresIn: TTL_SECONDS }),
  };
}

/**
 * A token that fails our checksum: a live token with its last character changed. To
 * passport-http-bearer it is just another string to hash and look up.
 */
export function malformedToken(key: string): string {
  const last = key.at(-1) === 'A' ? 'B' : 'A';
  return key.slice(0, -1) + last;
}

/** A token of ours with a valid checksum that no record matches. */
export function unknownToken(): string {
  return tokenMath.generateToken('rmt', tokenMath.routingTag('nobody'));
}

const expect = (call: () => Promise<Outcome>, outcome: Outcome) => async (): Promise<boolean> => (await call()) === outcome;

/**
 * Every operation the in-process sections and bench/profile.ts measure, by key: each resolves
 * true when it gave the expected outcome.
 */
export function contenderOps(client: RedisClientType, csc: CachingClient, tokens: Tokens): Record<string, () => Promise<boolean>> {
  const bare = withoutTimer(client);
  const bareCached = withoutTimer(csc);
  const { oursRecordKey: key, oursField: field } = tokens;
  const bad = malformedToken(tokens.ours);
  return {
    ours: expect(passportCall(oursStrategy(client), bearerRequest(tokens.ours)), 'success'),
    'ours-csc': expect(passportCall(oursStrategy(csc), bearerRequest(tokens.ours)), 'success'),
    bearer: expect(passportCall(bearerStrategy(client), bearerRequest(tokens.bearer)), 'success'),
    jwt: expect(passportCall(jwtStrategy('string'), bearerRequest(tokens.jwt)), 'success'),
    'jwt-key': expect(passportCall(jwtStrategy('key'), bearerRequest(tokens.jwt)), 'success'),
    // The floor of one round trip: the read ours makes, with nothing around it. node-redis 6 at
    // its defaults, then without the per-command timer (as the repository sends it).
    raw: async () => (await client.hGet(key, field)) !== null,
    'raw-notimer': async () => (await bare.hGet(key, field)) !== null,
    // The same read served by the client-side cache: the floor of a cached verification.
    'raw-csc': async () => (await bareCached.hGet(key, field)) !== null,
    // The floor of any hashed-at-rest design: the digest it cannot skip, then the one read.
    'sha-raw': async () => (await bare.hGet(key, tokenMath.tokenId(tokens.ours, null))) !== null,
    // The same through Passport's calling convention: the attainable floor of a strategy.
    minimal: expect(passportCall(new MinimalHashedStrategy((id) => bare.hGet(key, id)), bearerRequest(tokens.ours)), 'success'),
    'minimal-csc': expect(passportCall(new MinimalHashedStrategy((id) => bareCached.hGet(key, id)), bearerRequest(tokens.ours)), 'success'),
    'ours-malformed': expect(passportCall(oursStrategy(client), bearerRequest(bad)), 'fail'),
    'ours-unknown': expect(passportCall(oursStrategy(client), bearerRequest(unknownToken())), 'fail'),
    'bearer-malformed': expect(passportCall(bearerStrategy(client), bearerRequest(bad)), 'fail'),
    // The harness alone: what a call that does nothing costs in runLoad.
    floor: () => Promise.resolve(true),
  };
}

/** What a standalone bench tool measures against: its clients, the seeded tokens, and every contender. */
export interface ContenderBench {
  client: RedisClientType;
  csc: CachingClient;
  tokens: Tokens;
  ops: Record<string, () => Promise<boolean>>;
}

/**
 * Runs `run` against a throwaway redis-server with the bench's tokens seeded and every
 * contender built, then closes the clients and stops the server, however `run` ends.
 */
export async function withContenders<T>(run: (bench: ContenderBench) => Promise<T>): Promise<T> {
  const server = await startRedisServer();
  const client = await plainClient(server.url);
  const csc = await cachingClient(server.url);
  try {
    const tokens = await seedTokens(client);
    return await run({ client, csc, tokens, ops: contenderOps(client, csc, tokens) });
  } finally {
    await client.close();
    await csc.close();
    await server.stop();
  }
}
