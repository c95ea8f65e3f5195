import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authorizeReactions, clientIdentity, type Authenticator } from '../auth/auth.js';
import { acceptReactions, type AcceptDeps } from './accept.js';
import { Accepted, batchBody, ReactionBody } from './schemas.js';

export interface IngestRoutesOptions extends AcceptDeps {
  maxBatch: number;
  bodyLimitBytes: number;
  /** Checked before the body is read, so an unauthenticated request costs no parsing. */
  auth?: Authenticator | undefined;
}

export async function ingestRoutes(app: FastifyInstance, o: IngestRoutesOptions): Promise<void> {
  // A single reaction is under 300 bytes; the batch limit scales with the item cap.
  const singleLimit = Math.min(o.bodyLimitBytes, 4096);
  // Request types come from the route schemas themselves: one definition validates and types.
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // ?token= is for WebSockets only: on a POST it would end up in access logs.
  const guard = o.auth ? { onRequest: o.auth.guard(false) } : {};

  typed.post(
    '/v1/reactions',
    { bodyLimit: singleLimit, schema: { body: ReactionBody, response: { 202: Accepted } }, ...guard },
    async (req, reply) => {
      authorizeReactions(o.auth?.identity(req), [req.body], false);
      return reply.code(202).send({ accepted: await acceptReactions(o, [req.body], false, clientIdentity(req, o.auth)) });
    },
  );

  typed.post(
    '/v1/reactions/batch',
    { bodyLimit: o.bodyLimitBytes, schema: { body: batchBody(o.maxBatch), response: { 202: Accepted } }, ...guard },
    async (req, reply) => {
      authorizeReactions(o.auth?.identity(req), req.body.reactions, true);
      return reply.code(202).send({ accepted: await acceptReactions(o, req.body.reactions, true, clientIdentity(req, o.auth)) });
    },
  );
}
