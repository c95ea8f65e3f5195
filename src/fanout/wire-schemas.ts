import { Type, type Static } from 'typebox';
import type { ClientMessage, ServerMessage } from './wire.js';

/**
 * The /v1/live WebSocket messages as JSON Schemas, for the OpenAPI document (OpenAPI has no
 * vocabulary for frames on an upgraded socket). The assignments at the bottom keep them in step with
 * the types in wire.ts: a field added to one and not the other fails the type check.
 */
const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'emoji -> value' });

export const LiveUpdateMessage = Type.Object(
  {
    type: Type.Union([Type.Literal('snapshot'), Type.Literal('update')], { description: 'snapshot: the latest window on (re)connect; update: a window that just closed' }),
    matchId: Type.String(),
    seq: Type.Integer({ description: 'windowStart / windowMs: the same whoever computes it' }),
    prevSeq: Type.Integer({ description: 'seq of the previous update of the match in this epoch (-1 when none); a mismatch is a missed update' }),
    epoch: Type.String({ description: 'Names the history the seqs belong to; resume with since=seq&epoch=epoch' }),
    windowStart: Type.Integer({ description: 'ms since the Unix epoch, inclusive' }),
    windowEnd: Type.Integer({ description: 'ms since the Unix epoch, exclusive' }),
    counts: Counts,
    units: { ...Counts, description: 'ceil(count / unitScale) for the top-N emojis' },
    total: Type.Integer({ minimum: 0 }),
    sentiment: Type.Number({ minimum: -1, maximum: 1 }),
    viewers: Type.Integer({ minimum: 0, description: 'Viewers of the match over all fan-out nodes' }),
  },
  { $id: 'LiveUpdateMessage', title: 'LiveUpdateMessage', additionalProperties: false },
);

export const LiveGapMessage = Type.Object(
  {
    type: Type.Literal('gap'),
    matchId: Type.String(),
    epoch: Type.String({ description: 'The current epoch' }),
    since: Type.Integer({ description: 'The seq the client asked to resume after' }),
    reason: Type.Union([Type.Literal('history-trimmed'), Type.Literal('epoch-changed'), Type.Literal('slow-consumer'), Type.Literal('since-ahead')]),
  },
  { $id: 'LiveGapMessage', title: 'LiveGapMessage', additionalProperties: false, description: 'Updates were missed that history cannot replay; the latest snapshot follows' },
);

export const LivePongMessage = Type.Object({ type: Type.Literal('pong') }, { $id: 'LivePongMessage', title: 'LivePongMessage', additionalProperties: false });


export const LiveServerMessage = Type.Union([LiveUpdateMessage, LiveGapMessage, LivePongMessage], {
  $id: 'LiveServerMessage',
  title: 'LiveServerMessage',
  description: 'A frame the server sends on /v1/live (JSON text), told apart by `type`',
});

export const LiveClientMessage = Type.Object(
  { type: Type.Literal('ping') },
  { $id: 'LiveClientMessage', title: 'LiveClientMessage', additionalProperties: false, description: 'The only frame a client may send; answered with pong. Anything else closes the socket with 4402' },
);

/** The compact profile (format=compact): this text message first, then binary updates. */
export const LiveHelloMessage = Type.Object(
  {
    type: Type.Literal('hello'),
    format: Type.Literal('compact'),
    windowMs: Type.Integer({ minimum: 1, description: 'windowStart = seq * windowMs, windowEnd = windowStart + windowMs' }),
    epoch: Type.String({ description: 'The epoch of the updates that follow until one carries another' }),
    emojis: Type.Array(Type.String(), { description: 'The catalogue order (that of GET /v1/emojis) the updates index into' }),
  },
  { $id: 'LiveHelloMessage', title: 'LiveHelloMessage', additionalProperties: false, description: 'Sent first on a format=compact connection (a text frame; an SSE `hello` event)' },
);

export const LiveCompactUpdate = Type.String({
  $id: 'LiveCompactUpdate',
  title: 'LiveCompactUpdate',
  format: 'binary',
  contentEncoding: 'base64',
  description:
    'An update or snapshot on format=compact: a binary WebSocket frame (base64 in an SSE default event). ' +
    'varint = unsigned LEB128. byte 0 flags: bit0 snapshot (else update), bit1 epoch follows, bits 2-3 prevSeq (0: seq-1, 1: -1, 2: seq - varint that follows); ' +
    'varint seq; [varint seq-prevSeq]; [u8 length + ASCII epoch]; varint viewers; varint total; i8 round(sentiment*100); ' +
    'then to the end, one varint per emoji with units: units * emojis.length + index (index into the hello emojis), in the JSON `units` order. ' +
    'matchId, windowStart/windowEnd and counts are not sent. Gap, pong and error stay JSON text messages. ' +
    'Decoder: src/wire/compact.ts (decodeCompact), in the SDK.',
});

const serverInSync: ServerMessage = {} as Static<typeof LiveServerMessage>;
const clientInSync: ClientMessage = {} as Static<typeof LiveClientMessage>;
void serverInSync;
void clientInSync;

export const liveMessageSchemas = [LiveUpdateMessage, LiveGapMessage, LivePongMessage, LiveServerMessage, LiveClientMessage, LiveHelloMessage, LiveCompactUpdate];
