// The wire contract between the server and its clients: what a window is, the messages of
// GET /v1/live and /v1/replay, the error body. Defined once here; the server (src/domain,
// src/fanout, src/archive) and the client SDK (packages/sdk, whose build includes this folder)
// both depend on it, and it depends on nothing.

/** One closed window of one match: identical whichever aggregator (TypeScript or Spark) computed it. */
export interface WindowAggregate {
  matchId: string;
  windowStart: number;
  windowEnd: number;
  /** Exact count per emoji. */
  counts: Record<string, number>;
  /** ceil(count / unitScale) for the top-N emojis. */
  units: Record<string, number>;
  total: number;
  sentiment: number;
}

/** A closed window as the fan-out delivers it: ordered by seq within an epoch of history. */
export interface LiveWindow extends WindowAggregate {
  /** windowStart / windowMs: the same whoever computes it. */
  seq: number;
  /** seq of the previous update of this match in this epoch (-1 when none): tells a quiet window from a missed one. */
  prevSeq: number;
  /** Names the history the seqs belong to. */
  epoch: string;
}

/** since-ahead: the client asked to resume after a seq this server has not published (yet). */
export type GapReason = 'history-trimmed' | 'epoch-changed' | 'slow-consumer' | 'since-ahead';

/** Server -> client messages on GET /v1/live: a discriminated union on `type`. */
export type ServerMessage =
  | ({ type: 'snapshot' | 'update'; viewers: number } & LiveWindow)
  | { type: 'gap'; matchId: string; epoch: string; since: number; reason: GapReason }
  | { type: 'pong' };

/** Client -> server frames. */
export type ClientMessage = { type: 'ping' };

export type LiveMessage = Extract<ServerMessage, { type: 'snapshot' | 'update' }>;

/**
 * GET /v1/replay: an archived match streamed paced from a playhead. Windows come as the live
 * protocol's `snapshot` (the window showing at the playhead) and `update` messages, each when the
 * playhead reaches the window's end; a `replay` message tells the playhead after the start, every
 * seek, pause and play, and at the end.
 */
export interface ReplayStateMessage {
  type: 'replay';
  matchId: string;
  /** Start of the match's first archived window and end of its last, ms since the epoch. */
  matchStart: number;
  matchEnd: number;
  /** The playhead, ms since the epoch, and the same as ms since matchStart. */
  position: number;
  offsetMs: number;
  speed: number;
  state: 'playing' | 'paused' | 'ended';
}
export type ReplayServerMessage = LiveMessage | ReplayStateMessage | { type: 'pong' };
/** Client -> server frames on GET /v1/replay: the playhead by `offset` (ms since the match start) or `at` (ms since the epoch). */
export type ReplayClientMessage = { type: 'ping' } | { type: 'seek'; offset?: number; at?: number } | { type: 'pause' } | { type: 'play' };
export type GapMessage = Extract<ServerMessage, { type: 'gap' }>;

/** The API's error body (`EMO_ERR_*` codes); `index` names the bad item of a batch. */
export interface ApiErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  index?: number;
}
