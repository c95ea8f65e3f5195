/**
 * The WebSocket close codes the server sends on /v1/live and /v1/replay: one table for the server
 * (which sends them), the SDK (which acts on them) and the OpenAPI text (which states them).
 * 44xx: do not reconnect as is (4401 with a fresh token, 4429 after the seconds in the reason).
 */
export const CloseCodes = Object.freeze({
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TOKEN_EXPIRED: 4401,
  MALFORMED_FRAME: 4402,
  RATE_LIMITED: 4429,
});

/** What each close code means, for documents (the OpenAPI text, the README's list). */
export const CLOSE_CODE_MEANINGS: Readonly<Record<number, string>> = Object.freeze({
  [CloseCodes.GOING_AWAY]: 'server going away (shutdown): reconnect, to another node',
  [CloseCodes.MESSAGE_TOO_BIG]: 'client frame over WS_MAX_CLIENT_FRAME_BYTES',
  [CloseCodes.INTERNAL_ERROR]: 'the subscription or replay failed on the server: reconnect and resume',
  [CloseCodes.TOKEN_EXPIRED]: 'token expired: reconnect with a fresh token and resume',
  [CloseCodes.MALFORMED_FRAME]: 'malformed client frame',
  [CloseCodes.RATE_LIMITED]: 'over the connection-rate cap: the reason is the seconds to wait',
});
