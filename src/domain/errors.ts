/**
 * The one error catalogue. Every error the system reports to a caller has a stable code, an HTTP
 * status and whether retrying can help; routes never invent ad-hoc errors.
 */
export interface ErrorDefinition {
  readonly code: string;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly message: string;
}

function def(code: string, statusCode: number, message: string, retryable = false): ErrorDefinition {
  return Object.freeze({ code, statusCode, message, retryable });
}

export const ErrorCodes = Object.freeze({
  VALIDATION: def('EMO_ERR_VALIDATION', 400, 'Request does not match the schema'),
  MALFORMED_JSON: def('EMO_ERR_MALFORMED_JSON', 400, 'Body is not valid JSON'),
  UNSUPPORTED_MEDIA_TYPE: def('EMO_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Body must be application/json'),
  UNKNOWN_EMOJI: def('EMO_ERR_UNKNOWN_EMOJI', 400, 'Emoji is not in the catalog'),
  TIMESTAMP_RANGE: def('EMO_ERR_TIMESTAMP_RANGE', 400, 'Timestamp is outside the accepted range'),
  BODY_TOO_LARGE: def('EMO_ERR_BODY_TOO_LARGE', 413, 'Body exceeds the size limit'),
  RATE_LIMITED: def('EMO_ERR_RATE_LIMITED', 429, 'Too many reactions from this user', true),
  BACKPRESSURE: def('EMO_ERR_BACKPRESSURE', 503, 'The reaction log is full; retry later', true),
  LOG_UNAVAILABLE: def('EMO_ERR_LOG_UNAVAILABLE', 503, 'The reaction log is unavailable; retry later', true),
  UNAUTHORIZED: def('EMO_ERR_UNAUTHORIZED', 401, 'A valid API token is required'),
  TOKEN_INVALID: def('EMO_ERR_TOKEN_INVALID', 401, 'The token is not valid (signature, algorithm, issuer or audience)'),
  TOKEN_EXPIRED: def('EMO_ERR_TOKEN_EXPIRED', 401, 'The token has expired'),
  MATCH_FORBIDDEN: def('EMO_ERR_MATCH_FORBIDDEN', 403, 'The token does not grant this match'),
  USER_MISMATCH: def('EMO_ERR_USER_MISMATCH', 403, 'userId differs from the token\'s subject'),
  BAD_REQUEST: def('EMO_ERR_BAD_REQUEST', 400, 'The request is malformed'),
  METHOD_NOT_ALLOWED: def('EMO_ERR_METHOD_NOT_ALLOWED', 405, 'Method not allowed on this route; see Allow'),
  REQUEST_TIMEOUT: def('EMO_ERR_REQUEST_TIMEOUT', 408, 'The request was not received in time'),
  UNSUPPORTED_ENCODING: def('EMO_ERR_UNSUPPORTED_ENCODING', 415, 'Content-Encoding must be gzip or identity'),
  UPGRADE_REQUIRED: def('EMO_ERR_UPGRADE_REQUIRED', 426, 'This route is a WebSocket: upgrade is required'),
  HEADERS_TOO_LARGE: def('EMO_ERR_HEADERS_TOO_LARGE', 431, 'Request headers are too large'),
  ORIGIN_NOT_ALLOWED: def('EMO_ERR_ORIGIN_NOT_ALLOWED', 403, 'Origin is not allowed'),
  NODE_FULL: def('EMO_ERR_NODE_FULL', 503, 'This node holds its maximum of connections', true),
  TOO_MANY_CONNECTIONS: def('EMO_ERR_TOO_MANY_CONNECTIONS', 429, 'Too many connections from this address', true),
  NOT_READY: def('EMO_ERR_NOT_READY', 503, 'Service is not ready', true),
  NOT_FOUND: def('EMO_ERR_NOT_FOUND', 404, 'Route not found'),
  MATCH_NOT_ARCHIVED: def('EMO_ERR_MATCH_NOT_ARCHIVED', 404, 'The archive holds no window of this match'),
  ARCHIVE_UNAVAILABLE: def('EMO_ERR_ARCHIVE_UNAVAILABLE', 503, 'The window archive is unavailable; retry later', true),
  CONFIG: def('EMO_ERR_CONFIG', 500, 'Invalid configuration'),
  CODEC: def('EMO_ERR_CODEC', 500, 'Could not encode or decode a record'),
  UNKNOWN_SCHEMA: def('EMO_ERR_UNKNOWN_SCHEMA', 500, 'Schema id is unknown to the registry'),
  REGISTRY: def('EMO_ERR_REGISTRY', 503, 'Schema registry request failed', true),
  CLOSED: def('EMO_ERR_CLOSED', 503, 'Component is closed'),
  INTERNAL: def('EMO_ERR_INTERNAL', 500, 'Internal error'),
});

export type ErrorName = keyof typeof ErrorCodes;

export interface EmoErrorOptions {
  cause?: unknown;
  /** Seconds the caller should wait before retrying (sent as Retry-After). */
  retryAfterSec?: number;
  /** Extra machine-readable fields merged into the JSON error body (e.g. the failing batch index). */
  details?: Record<string, unknown>;
}

export class EmoError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly retryAfterSec: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(definition: ErrorDefinition, message?: string, options: EmoErrorOptions = {}) {
    super(message ?? definition.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EmoError';
    this.code = definition.code;
    this.statusCode = definition.statusCode;
    this.retryable = definition.retryable;
    this.retryAfterSec = options.retryAfterSec;
    this.details = options.details;
  }
}

export function emoError(name: ErrorName, message?: string, options?: EmoErrorOptions): EmoError {
  return new EmoError(ErrorCodes[name], message, options);
}

export function isEmoError(err: unknown, name?: ErrorName): err is EmoError {
  return err instanceof EmoError && (name === undefined || err.code === ErrorCodes[name].code);
}
