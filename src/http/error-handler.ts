import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EmoError, emoError, isEmoError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ErrorBody } from './error-schema.js';

interface ValidationIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** "/reactions/3/emoji" -> "reactions[3].emoji"; the batch index becomes a field of its own. */
function describeValidation(context: string, issue: ValidationIssue): { message: string; index?: number } {
  const parts = issue.instancePath.split('/').filter(Boolean);
  let path = '';
  for (const p of parts) path += /^\d+$/.test(p) ? `[${p}]` : path ? `.${p}` : p;
  if (issue.keyword === 'required') path += `${path ? '.' : ''}${String(issue.params.missingProperty)}`;
  if (issue.keyword === 'additionalProperties') path += `${path ? '.' : ''}${String(issue.params.additionalProperty)}`;
  const what = issue.keyword === 'additionalProperties' ? 'is not a known field' : issue.keyword === 'required' ? 'is required' : issue.message ?? 'is invalid';
  const index = parts[0] === 'reactions' && parts[1] !== undefined && /^\d+$/.test(parts[1]) ? Number(parts[1]) : undefined;
  return { message: `${context === 'body' ? 'body' : context}${path ? `.${path}` : ''} ${what}`, ...(index === undefined ? {} : { index }) };
}

export function toEmoError(err: FastifyError | EmoError | Error): EmoError {
  if (isEmoError(err)) return err;
  const fe = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (fe.validation && fe.validation.length > 0) {
    const d = describeValidation(fe.validationContext ?? 'body', fe.validation[0]!);
    return emoError('VALIDATION', d.message, d.index === undefined ? { cause: err } : { cause: err, details: { index: d.index } });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return emoError('MALFORMED_JSON', `Body is not valid JSON: ${fe.message}`, { cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return emoError('BODY_TOO_LARGE', undefined, { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return emoError('UNSUPPORTED_MEDIA_TYPE', undefined, { cause: err });
  }
  if (err instanceof SyntaxError) return emoError('MALFORMED_JSON', `Body is not valid JSON: ${err.message}`, { cause: err });
  return emoError('INTERNAL', undefined, { cause: err });
}

export function errorBody(e: EmoError): ErrorBody {
  return { statusCode: e.statusCode, code: e.code as ErrorBody['code'], error: STATUS_CODES[e.statusCode] ?? 'Error', message: e.message, ...(e.details ?? {}) };
}

export function installErrorHandling(app: FastifyInstance, metrics: Metrics): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toEmoError(err);
    if (e.statusCode >= 500 && !e.retryable) req.log.error({ err }, 'request failed');
    metrics.requestsRejected.inc({ code: e.code });
    if (e.retryAfterSec !== undefined) reply.header('retry-after', String(e.retryAfterSec));
    return reply.code(e.statusCode).type('application/json').send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = emoError('NOT_FOUND', `Route ${req.method} ${req.url.split('?')[0]} not found`);
    return reply.code(404).send(errorBody(e));
  });
}
