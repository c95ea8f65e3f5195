import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { emoError } from '../domain/errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-token check for the routes a deployment exposes to clients. Browsers cannot set headers
 * on a WebSocket, so the live route also takes `?token=`. Tokens are compared as digests in
 * constant time. With no tokens configured every request passes (local development).
 */
export function tokenGuard(tokens: string[]): ((req: FastifyRequest) => Promise<void>) | undefined {
  if (tokens.length === 0) return undefined;
  const allowed = tokens.map(digest);
  return async (req) => {
    const token = presentedToken(req);
    const d = token ? digest(token) : undefined;
    if (!d || !allowed.some((a) => timingSafeEqual(a, d))) {
      throw emoError('UNAUTHORIZED');
    }
  };
}

function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const fromHeader = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  const fromQuery = (req.query as { token?: unknown } | undefined)?.token;
  return fromHeader ?? (typeof fromQuery === 'string' ? fromQuery : undefined);
}

/**
 * Who a request counts against for rate limits: its API token when tokens are on (a digest, so no
 * token is ever written to a shared store), else its address (the client's, behind TRUST_PROXY).
 * Unlike the userId in the body, neither can be rotated freely by the client.
 */
export function clientIdentity(req: FastifyRequest, tokens: readonly string[]): string {
  if (tokens.length > 0) {
    const token = presentedToken(req);
    if (token) return `token:${digest(token).subarray(0, 12).toString('hex')}`;
  }
  return `ip:${req.ip}`;
}
