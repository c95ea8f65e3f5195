import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EmoError, ErrorCodes, emoError, isEmoError, type ErrorName } from '../domain/errors.js';
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

/** Statuses Fastify or Node may raise on their own, each with its code in the catalogue. */
const BY_STATUS: Record<number, ErrorName> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'ORIGIN_NOT_ALLOWED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  426: 'UPGRADE_REQUIRED',
  431: 'HEADERS_TOO_LARGE',
};

/** Error codes of a client that went away mid-request: nothing the server did wrong. */
const ABORT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'FST_ERR_CTP_INVALID_CONTENT_LENGTH']);

export function isClientAbort(err: { code?: string; message?: string }, req?: FastifyRequest): boolean {
  return (err.code !== undefined && ABORT_CODES.has(err.code) && (err.code !== 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || req?.raw.destroyed === true)) || err.message === 'aborted';
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
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return emoError('BAD_REQUEST', `Body is not valid gzip: ${fe.message}`, { cause: err });
  }
  if (err instanceof SyntaxError) return emoError('MALFORMED_JSON', `Body is not valid JSON: ${err.message}`, { cause: err });
  if (isClientAbort(fe)) return emoError('BAD_REQUEST', 'The client closed the request', { cause: err });
  // Any other client error Fastify or Node raises keeps its 4xx, with the catalogue's code: never a 500.
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) return emoError(BY_STATUS[status] ?? 'BAD_REQUEST', fe.message || undefined, { cause: err });
  return emoError('INTERNAL', undefined, { cause: err });
}

export function errorBody(e: EmoError): ErrorBody {
  return { statusCode: e.statusCode, code: e.code as ErrorBody['code'], error: STATUS_CODES[e.statusCode] ?? 'Error', message: e.message, ...(e.details ?? {}) };
}

/** The 401 challenge (RFC 6750): what a client needs to know to authenticate. */
export function wwwAuthenticate(e: EmoError): string {
  const error = e.code === ErrorCodes.TOKEN_INVALID.code || e.code === ErrorCodes.TOKEN_EXPIRED.code ? ', error="invalid_token"' : '';
  return `Bearer realm="emostream"${error}`;
}

export function sendError(reply: FastifyReply, e: EmoError): FastifyReply {
  if (e.retryAfterSec !== undefined) reply.header('retry-after', String(e.retryAfterSec));
  if (e.statusCode === 401) reply.header('www-authenticate', wwwAuthenticate(e));
  return reply.code(e.statusCode).type('application/json').send(errorBody(e));
}

/**
 * Which methods each path answers, from the routes as they are added: an unknown method on a known
 * path is a 405 with `Allow`, not a 404. Wildcard routes (static assets) match by prefix.
 */
class RouteMethods {
  readonly #exact = new Map<string, Set<string>>();
  readonly #prefixes: { prefix: string; methods: Set<string> }[] = [];

  add(url: string, methods: string[]): void {
    // The CORS preflight route answers OPTIONS on every path; it says nothing about the path.
    if (url === '*' || url === '/*') return;
    const wild = url.endsWith('*');
    const key = wild ? url.slice(0, -1) : url;
    let set = wild ? this.#prefixes.find((p) => p.prefix === key)?.methods : this.#exact.get(key);
    if (!set) {
      set = new Set();
      if (wild) this.#prefixes.push({ prefix: key, methods: set });
      else this.#exact.set(key, set);
    }
    for (const m of methods) set.add(m);
    if (set.has('GET')) set.add('HEAD');
  }

  allowed(path: string): string[] | undefined {
    const set = this.#exact.get(path) ?? this.#prefixes.find((p) => path.startsWith(p.prefix) && path.length > p.prefix.length)?.methods;
    return set && set.size > 0 ? [...set].sort() : undefined;
  }
}

/** Fastify's own refusals before routing (a URL it cannot decode), in the catalogue's shape. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  req.log.warn({ code: err.code, url: req.raw.url }, 'bad request line');
  void sendError(reply, emoError('BAD_REQUEST', err.message));
}

export function installErrorHandling(app: FastifyInstance, metrics: Metrics): void {
  const routes = new RouteMethods();
  app.addHook('onRoute', (r) => routes.add(r.url, Array.isArray(r.method) ? r.method : [r.method]));
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toEmoError(err);
    if (isClientAbort(err, req)) {
      // One line, no stack: a client hanging up is routine, and a flood of them must not bury real errors.
      req.log.warn({ code: err.code ?? 'aborted', url: req.url }, 'client aborted the request');
    } else if (e.statusCode >= 500 && !e.retryable) req.log.error({ err }, 'request failed');
    metrics.requestsRejected.inc({ code: e.code });
    return sendError(reply, e);
  });
  const refusal = (req: FastifyRequest, reply: FastifyReply): EmoError => {
    const path = (req.raw.url ?? '/').split('?')[0]!;
    const allow = routes.allowed(path);
    if (allow && req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      // A CORS preflight from an origin not in CORS_ORIGINS (allowed ones are answered by @fastify/cors).
      return emoError('ORIGIN_NOT_ALLOWED', `Origin ${req.headers.origin} is not allowed`);
    }
    if (allow) {
      reply.header('allow', allow.join(', '));
      return emoError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`);
    }
    return emoError('NOT_FOUND', `Route ${req.method} ${path} not found`);
  };
  // Before the body is read: a method with a body (QUERY) on no route would else be refused for
  // its missing Content-Type rather than for the route.
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) throw refusal(req, reply);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = refusal(req, reply);
    metrics.requestsRejected.inc({ code: e.code });
    return sendError(reply, e);
  });
}
