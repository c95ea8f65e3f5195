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
    const header = req.headers.authorization;
    const fromHeader = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const fromQuery = (req.query as { token?: unknown } | undefined)?.token;
    const token = fromHeader ?? (typeof fromQuery === 'string' ? fromQuery : undefined);
    const d = token ? digest(token) : undefined;
    if (!d || !allowed.some((a) => timingSafeEqual(a, d))) {
      throw emoError('UNAUTHORIZED');
    }
  };
}
