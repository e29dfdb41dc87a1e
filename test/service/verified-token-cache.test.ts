/**
 * The cache of verified tokens (service/src/auth/verified-token-cache.ts) around the service's real
 * verifier (aws-jwt-verify) and the harness' token issuer: real RS256 JWTs, the JWKS over HTTPS
 * from 127.0.0.1. Time is moved by mocking `Date.now`, which both the cache and the library read.
 */
import { readFileSync } from 'node:fs';
import { globalAgent } from 'node:https';
import {
  createSigningKey,
  createTestCertificates,
  type LocalIssuer,
  signJwt,
  startLocalIssuer,
} from '../../scripts/harness';
import { AuthFailure, createTokenVerifier, type TokenVerifier } from '../../service/src/auth/token-verifier';
import { cacheVerifiedTokens } from '../../service/src/auth/verified-token-cache';

let issuer: LocalIssuer;
let real: TokenVerifier;

beforeAll(async () => {
  const certs = createTestCertificates();
  // The library fetches the JWKS with https.request on the global agent: trust the harness CA there
  // (the service process trusts it through NODE_EXTRA_CA_CERTS).
  globalAgent.options.ca = readFileSync(certs.caCertPath);
  issuer = await startLocalIssuer({ certs });
  real = createTokenVerifier({ issuer: issuer.issuer, audiences: issuer.audiences, jwksUrl: issuer.jwksUrl });
  expect(await real.warmUp()).toEqual({ ok: true });
});

afterAll(async () => {
  await issuer?.stop();
});

afterEach(() => {
  jest.restoreAllMocks();
});

/** The real verifier, counting the tokens that reach it. */
function counted(inner: TokenVerifier = real): { verifier: TokenVerifier; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    verifier: {
      verify: (token) => {
        calls.push(token);
        return inner.verify(token);
      },
      warmUp: () => inner.warmUp(),
    },
  };
}

const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;

async function failure(promise: Promise<unknown>): Promise<AuthFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthFailure);
  return err as AuthFailure;
}

describe('the cache of verified tokens', () => {
  test('a token is verified once and then served from the cache, with the same principal', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier);
    const token = issuer.mint({ sub: 'carol' });
    const first = await cache.verify(token);
    const second = await cache.verify(token);
    expect(first).toEqual({ sub: 'carol', clientId: issuer.userClientId, scopes: expect.any(Array) });
    expect(second).toEqual(first);
    expect(calls).toHaveLength(1);
    expect(cache.size).toBe(1);
  });

  test('a cached token still expires at its exp: from then on the verifier decides, and refuses it past the skew', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier);
    const token = issuer.mint({ sub: 'dave', expiresInSeconds: 120 });
    const expMs = (claims(token).exp as number) * 1000;
    await cache.verify(token);
    jest.spyOn(Date, 'now').mockReturnValue(expMs - 1);
    await cache.verify(token);
    expect(calls).toHaveLength(1);

    // At exp the entry is gone; the verifier still accepts the token within its 30 s clock skew.
    jest.spyOn(Date, 'now').mockReturnValue(expMs);
    await expect(cache.verify(token)).resolves.toMatchObject({ sub: 'dave' });
    expect(calls).toHaveLength(2);
    // Never stored again past exp: every call in the skew window goes to the verifier.
    await cache.verify(token);
    expect(calls).toHaveLength(3);

    jest.spyOn(Date, 'now').mockReturnValue(expMs + 31_000);
    expect((await failure(cache.verify(token))).reason).toBe('expired');
    expect(calls).toHaveLength(4);
  });

  test('another token of the same sub is verified on its own, and a forged one is refused', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier);
    const first = issuer.mint({ sub: 'erin' });
    const second = issuer.mint({ sub: 'erin' });
    await cache.verify(first);
    await cache.verify(second);
    expect(calls).toEqual([first, second]);

    // The same claims as a cached token, signed by a key the issuer never published.
    const forged = signJwt(createSigningKey(), claims(first), { kid: issuer.key.kid });
    expect((await failure(cache.verify(forged))).reason).toBe('invalid');
    expect(calls).toEqual([first, second, forged]);
  });

  test('a tampered token is never served from the cache', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier);
    const token = issuer.mint({ sub: 'mallory' });
    await cache.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];

    const otherSub = Buffer.from(JSON.stringify({ ...claims(token), sub: 'alice' })).toString('base64url');
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    for (const tampered of [`${header}.${otherSub}.${signature}`, `${header}.${payload}.${flipped}`]) {
      expect((await failure(cache.verify(tampered))).reason).toBe('invalid');
    }
    expect(calls).toHaveLength(3);
    // The genuine token is still served from the cache.
    await expect(cache.verify(token)).resolves.toMatchObject({ sub: 'mallory' });
    expect(calls).toHaveLength(3);
  });

  test('a refusal is never cached', async () => {
    let accept = false;
    const { verifier, calls } = counted({
      verify: async () => {
        if (!accept) throw new AuthFailure('invalid', 'signing key unavailable');
        return { sub: 'frank', scopes: [] };
      },
      warmUp: async () => ({ ok: true }),
    });
    const cache = cacheVerifiedTokens(verifier);
    const token = issuer.mint({ sub: 'frank' });
    await failure(cache.verify(token));
    await failure(cache.verify(token));
    expect(cache.size).toBe(0);
    accept = true;
    await cache.verify(token);
    await cache.verify(token);
    expect(calls).toHaveLength(3);
  });

  test('it holds at most maxEntries tokens, dropping the least recently used first', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier, { maxEntries: 2 });
    const [a, b, c] = [issuer.mint(), issuer.mint(), issuer.mint()] as [string, string, string];
    await cache.verify(a);
    await cache.verify(b);
    await cache.verify(a); // a is now the most recently used
    await cache.verify(c); // drops b
    expect(cache.size).toBe(2);
    expect(calls).toEqual([a, b, c]);
    await cache.verify(a);
    await cache.verify(c);
    expect(calls).toEqual([a, b, c]);
    await cache.verify(b);
    expect(calls).toEqual([a, b, c, b]);
  });

  test('a successful JWKS re-read empties it, so a withdrawn key stops verifying cached tokens too', async () => {
    const { verifier, calls } = counted();
    const cache = cacheVerifiedTokens(verifier);
    const token = issuer.mint();
    await cache.verify(token);
    expect(await cache.warmUp()).toEqual({ ok: true });
    expect(cache.size).toBe(0);
    await cache.verify(token);
    expect(calls).toHaveLength(2);
  });

  test('a verification under way when the cache is emptied does not refill it', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cache = cacheVerifiedTokens({
      verify: async () => {
        await gate;
        return { sub: 'gina', scopes: [] };
      },
      warmUp: async () => ({ ok: true }),
    });
    const pending = cache.verify(issuer.mint({ sub: 'gina' }));
    await cache.warmUp();
    release();
    await expect(pending).resolves.toMatchObject({ sub: 'gina' });
    expect(cache.size).toBe(0);
  });
});
