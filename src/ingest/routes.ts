import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clientIdentity } from '../http/auth.js';
import { acceptReactions, type AcceptDeps } from './accept.js';
import { Accepted, batchBody, ReactionBody } from './schemas.js';

export interface IngestRoutesOptions extends AcceptDeps {
  maxBatch: number;
  bodyLimitBytes: number;
  /** Runs before the body is read, so an unauthenticated request costs no parsing. */
  auth?: ((req: FastifyRequest) => Promise<void>) | undefined;
  /** API tokens (when set, a request's rate-limit identity is its token, not its address). */
  tokens: string[];
}

export async function ingestRoutes(app: FastifyInstance, o: IngestRoutesOptions): Promise<void> {
  // A single reaction is under 300 bytes; the batch limit scales with the item cap.
  const singleLimit = Math.min(o.bodyLimitBytes, 4096);
  // Request types come from the route schemas themselves: one definition validates and types.
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/v1/reactions',
    { bodyLimit: singleLimit, schema: { body: ReactionBody, response: { 202: Accepted } }, ...(o.auth ? { onRequest: o.auth } : {}) },
    async (req, reply) => reply.code(202).send({ accepted: await acceptReactions(o, [req.body], false, clientIdentity(req, o.tokens)) }),
  );

  typed.post(
    '/v1/reactions/batch',
    { bodyLimit: o.bodyLimitBytes, schema: { body: batchBody(o.maxBatch), response: { 202: Accepted } }, ...(o.auth ? { onRequest: o.auth } : {}) },
    async (req, reply) => reply.code(202).send({ accepted: await acceptReactions(o, req.body.reactions, true, clientIdentity(req, o.tokens)) }),
  );
}
