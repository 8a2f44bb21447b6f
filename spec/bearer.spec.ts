// RFC 6750 on a request, with no server and no framework: where a token is read from, what is
// malformed, and the challenge. The HTTP behaviour over every framework is in edge-suite.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerChallenge, extractToken, type BearerRequest, type TokenSource } from '../src/bearer.js';

const FORM = 'application/x-www-form-urlencoded';

function request(fields: Partial<BearerRequest>): BearerRequest {
  return { headers: {}, method: 'GET', url: '/', ...fields };
}

function fromHeader(authorization: string | undefined): ReturnType<typeof extractToken> {
  return extractToken(request({ headers: authorization === undefined ? {} : { authorization } }), ['header']);
}

describe('bearer: the Authorization header', () => {
  it('reads the token of a Bearer header, whatever the scheme\'s case and the spaces around', () => {
    assert.deepEqual(fromHeader('Bearer abc.DEF-123_~+/=='), { kind: 'token', token: 'abc.DEF-123_~+/==' });
    assert.deepEqual(fromHeader('bEaReR   tok  '), { kind: 'token', token: 'tok' });
  });

  it('finds no token without the header, or with another scheme', () => {
    assert.deepEqual(fromHeader(undefined), { kind: 'none' });
    assert.deepEqual(fromHeader('Basic dXNlcjpwYXNz'), { kind: 'none' });
    assert.deepEqual(fromHeader('Bearerish tok'), { kind: 'none' });
  });

  it('calls an empty header, a Bearer without a token, or a token that is not a token68 malformed', () => {
    for (const value of ['', '   ', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b', 'Bearer "tok"', 'Bearer tök']) {
      assert.deepEqual(fromHeader(value), { kind: 'malformed' }, value);
    }
  });
});

describe('bearer: the form body (RFC 6750 §2.2)', () => {
  const sources: TokenSource[] = ['body'];

  it('reads access_token from a form-encoded body of a request that has one', () => {
    const req = request({ method: 'POST', headers: { 'content-type': `${FORM}; charset=utf-8` }, body: { access_token: 'tok' } });
    assert.deepEqual(extractToken(req, sources), { kind: 'token', token: 'tok' });
  });

  it('ignores a GET or HEAD body, another content type, and inherited fields', () => {
    assert.deepEqual(extractToken(request({ method: 'GET', headers: { 'content-type': FORM }, body: { access_token: 'tok' } }), sources), { kind: 'none' });
    assert.deepEqual(extractToken(request({ method: 'HEAD', headers: { 'content-type': FORM }, body: { access_token: 'tok' } }), sources), { kind: 'none' });
    assert.deepEqual(extractToken(request({ method: 'POST', headers: { 'content-type': 'application/json' }, body: { access_token: 'tok' } }), sources), { kind: 'none' });
    const inherited = Object.create({ access_token: 'tok' }) as object;
    assert.deepEqual(extractToken(request({ method: 'POST', headers: { 'content-type': FORM }, body: inherited }), sources), { kind: 'none' });
  });

  it('calls an empty or non-string access_token malformed', () => {
    for (const value of ['', ['a', 'b'], 42]) {
      const req = request({ method: 'POST', headers: { 'content-type': FORM }, body: { access_token: value } });
      assert.deepEqual(extractToken(req, sources), { kind: 'malformed' });
    }
  });
});

describe('bearer: the query (RFC 6750 §2.3)', () => {
  const sources: TokenSource[] = ['query'];

  it('reads access_token from a parsed query, or from the URL when nothing parsed it', () => {
    assert.deepEqual(extractToken(request({ query: { access_token: 'tok' } }), sources), { kind: 'token', token: 'tok' });
    assert.deepEqual(extractToken(request({ url: '/me?x=1&access_token=tok' }), sources), { kind: 'token', token: 'tok' });
    assert.deepEqual(extractToken(request({ url: '/me?x=1' }), sources), { kind: 'none' });
  });

  it('calls two access_token parameters malformed', () => {
    assert.deepEqual(extractToken(request({ url: '/me?access_token=a&access_token=b' }), sources), { kind: 'malformed' });
    assert.deepEqual(extractToken(request({ query: { access_token: ['a', 'b'] } }), sources), { kind: 'malformed' });
  });
});

describe('bearer: a token in two places', () => {
  it('is malformed (RFC 6750 §2), and one place alone is read', () => {
    const both = request({ headers: { authorization: 'Bearer a' }, url: '/?access_token=b' });
    assert.deepEqual(extractToken(both, ['header', 'query']), { kind: 'malformed' });
    assert.deepEqual(extractToken(both, ['header']), { kind: 'token', token: 'a' });
    assert.deepEqual(extractToken(both, ['query']), { kind: 'token', token: 'b' });
  });

  it('reads no place that was not asked for', () => {
    assert.deepEqual(extractToken(request({ url: '/?access_token=b' }), ['header']), { kind: 'none' });
  });
});

describe('bearer: the challenge (RFC 6750 §3)', () => {
  it('names the realm, then the scope when there is one, then the error', () => {
    assert.equal(bearerChallenge('Users', []), 'Bearer realm="Users"');
    assert.equal(bearerChallenge('api', ['read', 'write'], 'insufficient_scope'), 'Bearer realm="api", scope="read write", error="insufficient_scope"');
    assert.equal(bearerChallenge('api', [], 'invalid_token'), 'Bearer realm="api", error="invalid_token"');
  });

  it('escapes quotes and backslashes as quoted-strings', () => {
    assert.equal(bearerChallenge('a "b" \\c', []), 'Bearer realm="a \\"b\\" \\\\c"');
  });
});
