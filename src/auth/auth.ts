import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { emoError } from '../domain/errors.js';
import type { Clock } from '../ports/clock.js';
import type { Config } from '../config/config.js';
import { CloseCodes } from '../wire/close-codes.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Who a request comes from. `service`: one of API_TOKENS, a trusted server that names the user in
 * each reaction. `viewer`: a verified JWT; its `sub` is the user, and `matches` (when the token has
 * the claim) the only matches it may react to or watch.
 */
export type Identity =
  | { kind: 'service'; key: string }
  | { kind: 'viewer'; sub: string; matches: readonly string[] | undefined; expMs: number };

/** The JWT settings: one key source set, or none. */
export type JwtSettings = Config['jwt'];

export interface AuthOptions {
  apiTokens: string[];
  jwt: JwtSettings;
  clock: Clock;
}

/** Close code of a live socket whose token expired (the client reconnects with a fresh token). */
export const TOKEN_EXPIRED_CLOSE_CODE = CloseCodes.TOKEN_EXPIRED;

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Authentication for the routes a deployment exposes to clients. Off when neither API_TOKENS nor a
 * JWT key is configured (local development): every request passes and the body's userId is trusted.
 */
export class Authenticator {
  readonly #service: Buffer[];
  readonly #key: Uint8Array | JWTVerifyGetKey | undefined;
  readonly #algorithms: string[];
  readonly #verifyOptions: { issuer?: string; audience?: string; clockTolerance: number };
  readonly #leewayMs: number;
  // Verified tokens until they expire: a viewer sends many reactions with one token, and the hot
  // path then costs one map lookup instead of an HMAC or a signature check.
  readonly #verified = new LRUCache<string, Identity & { kind: 'viewer' }>({ max: 100_000 });
  readonly #identities = new WeakMap<object, Identity>();

  private constructor(private readonly o: AuthOptions) {
    this.#service = o.apiTokens.map(digest);
    const j = o.jwt;
    if (j.secret !== '') {
      this.#key = new TextEncoder().encode(j.secret);
      this.#algorithms = ['HS256'];
    } else if (j.jwksFile !== '') {
      this.#key = createLocalJWKSet(JSON.parse(readFileSync(j.jwksFile, 'utf8')) as { keys: JWK[] });
      this.#algorithms = ['RS256', 'ES256'];
    } else if (j.jwksUrl !== '') {
      // jose keeps the fetched keys and refetches on an unknown kid (at most once per cooldown).
      this.#key = createRemoteJWKSet(new URL(j.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: j.jwksTimeoutMs });
      this.#algorithms = ['RS256', 'ES256'];
    } else {
      this.#key = undefined;
      this.#algorithms = [];
    }
    this.#leewayMs = j.leewaySec * 1000;
    this.#verifyOptions = { clockTolerance: j.leewaySec, ...(j.issuer ? { issuer: j.issuer } : {}), ...(j.audience ? { audience: j.audience } : {}) };
  }

  /** undefined when nothing is configured: the routes are open. */
  static create(o: AuthOptions): Authenticator | undefined {
    const any = o.apiTokens.length > 0 || o.jwt.secret !== '' || o.jwt.jwksFile !== '' || o.jwt.jwksUrl !== '';
    return any ? new Authenticator(o) : undefined;
  }

  get jwtEnabled(): boolean {
    return this.#key !== undefined;
  }

  get leewayMs(): number {
    return this.#leewayMs;
  }

  /**
   * An onRequest hook: 401 without a valid token. `?token=` is read only where `allowQuery` (the
   * WebSocket route: browsers cannot set its headers); elsewhere it would end up in access logs.
   */
  guard(allowQuery: boolean): (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void {
    // Callback style, and synchronous for a token already verified (the hot path): no promise per
    // request. A token seen for the first time is verified asynchronously (JWKS may be fetched).
    return (req, _reply, done) => {
      let identity: Identity | Promise<Identity>;
      try {
        identity = this.#verifyFast(this.#presented(req, allowQuery));
      } catch (err) {
        return done(err as Error);
      }
      if (!(identity instanceof Promise)) {
        this.#identities.set(req.raw, identity);
        return done();
      }
      identity.then(
        (id) => {
          this.#identities.set(req.raw, id);
          done();
        },
        (err: Error) => done(err),
      );
    };
  }

  identity(req: FastifyRequest): Identity | undefined {
    return this.#identities.get(req.raw);
  }

  async verify(token: string | undefined): Promise<Identity> {
    return this.#verifyFast(token);
  }

  /** The identity at once when the token is a service token or cached, else the promise of it. */
  #verifyFast(token: string | undefined): Identity | Promise<Identity> {
    if (token === undefined) throw emoError('UNAUTHORIZED', 'A Bearer token is required (Authorization: Bearer <token>)');
    if (this.#service.length > 0) {
      const d = digest(token);
      if (this.#service.some((a) => timingSafeEqual(a, d))) return { kind: 'service', key: d.subarray(0, 12).toString('hex') };
    }
    if (!this.#key) throw emoError('TOKEN_INVALID', 'The token is not one of the API tokens');
    const now = this.o.clock.now();
    const cached = this.#verified.get(token);
    if (cached) {
      if (now <= cached.expMs + this.#leewayMs) return cached;
      this.#verified.delete(token);
      throw emoError('TOKEN_EXPIRED');
    }
    return this.#verifyJwt(token, now).then((identity) => {
      this.#verified.set(token, identity);
      return identity;
    });
  }

  async #verifyJwt(token: string, now: number): Promise<Identity & { kind: 'viewer' }> {
    let payload: Record<string, unknown>;
    try {
      const r = await jwtVerify(token, this.#key as Uint8Array, {
        ...this.#verifyOptions,
        algorithms: this.#algorithms,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(now),
      });
      payload = r.payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw emoError('TOKEN_EXPIRED', undefined, { cause: err });
      if (err instanceof joseErrors.JWKSTimeout) throw emoError('NOT_READY', 'The key set could not be fetched in time', { cause: err, retryAfterSec: 1 });
      const why = err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : 'not a JWT';
      throw emoError('TOKEN_INVALID', `The token is not valid (${why})`, { cause: err });
    }
    const m = payload.matches;
    const matches = m === undefined ? undefined : typeof m === 'string' ? [m] : Array.isArray(m) && m.every((x) => typeof x === 'string') ? (m as string[]) : null;
    if (matches === null) throw emoError('TOKEN_INVALID', 'The token\'s "matches" claim must be a string or an array of strings');
    return { kind: 'viewer', sub: String(payload.sub), matches, expMs: Number(payload.exp) * 1000 };
  }

  #presented(req: FastifyRequest, allowQuery: boolean): string | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = BEARER.exec(header);
      if (!m) throw emoError('UNAUTHORIZED', 'The Authorization scheme must be Bearer');
      return m[1];
    }
    if (!allowQuery) return undefined;
    const q = (req.query as { token?: unknown } | undefined)?.token;
    return typeof q === 'string' && q !== '' ? q : undefined;
  }
}

/** 403 when a viewer's token does not grant the match. */
export function authorizeMatch(identity: Identity | undefined, matchId: string, index?: number): void {
  if (identity?.kind !== 'viewer' || identity.matches === undefined || identity.matches.includes(matchId)) return;
  throw emoError('MATCH_FORBIDDEN', `The token does not grant match ${matchId}`, index === undefined ? {} : { details: { index } });
}

/** A viewer reacts as itself: a reaction for another user is a 403, the batch's index in the body. */
export function authorizeReactions(identity: Identity | undefined, reactions: readonly { matchId: string; userId: string }[], batch: boolean): void {
  if (identity?.kind !== 'viewer') return;
  for (let i = 0; i < reactions.length; i++) {
    const r = reactions[i]!;
    if (r.userId !== identity.sub) {
      throw emoError('USER_MISMATCH', `userId ${r.userId} is not the token's subject`, batch ? { details: { index: i } } : {});
    }
    authorizeMatch(identity, r.matchId, batch ? i : undefined);
  }
}

/**
 * Who a request counts against for rate limits: its API token (a digest, so no token is ever
 * written to a shared store), its viewer, else its address (the client's, behind TRUST_PROXY).
 * Unlike the userId in the body, none can be rotated freely by the client.
 */
export function clientIdentity(req: FastifyRequest, auth: Authenticator | undefined): string {
  const id = auth?.identity(req);
  if (id?.kind === 'service') return `token:${id.key}`;
  if (id?.kind === 'viewer') return `sub:${id.sub}`;
  return `ip:${req.ip}`;
}
