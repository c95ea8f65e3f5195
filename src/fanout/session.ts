import { encodeCompact, toBase64, type HelloMessage } from '../wire/compact.js';
import type { LiveUpdate } from '../domain/types.js';
import type { FanoutBus } from '../ports/bus.js';
import type { Metrics } from '../metrics/metrics.js';
import { SharedFrame } from './frame.js';
import type { ServerMessage } from './wire.js';

/** json: the documented JSON messages (default); compact: binary updates (src/wire/compact.ts). */
export type LiveFormat = 'json' | 'compact';
export const LIVE_FORMATS: readonly LiveFormat[] = ['json', 'compact'];

/**
 * One viewer's connection as the live session sees it, whatever carries it (a WebSocket, an SSE
 * response): the session and the rooms decide what to send and when; the sink only how.
 */
export interface LiveSink {
  readonly format: LiveFormat;
  isOpen(): boolean;
  /** Bytes queued and not yet taken by the kernel: the slow-consumer bound reads it. */
  buffered(): number;
  /** A rare message (hello, gap, pong), encoded for this connection alone. */
  control(msg: ServerMessage | HelloMessage): void;
  /** An update, as bytes built once per update and shared by every connection of its kind. */
  update(e: EncodedUpdate, withEpoch: boolean): void;
}

export interface Viewer {
  sink: LiveSink;
  /** Highest seq this client has been sent. */
  lastSeq: number;
  epoch: string;
  /** The epoch the client was last told (hello or an update that carried it): compact frames omit it while unchanged. */
  wireEpoch: string;
  /** Until the snapshot/replay is sent, live updates wait here so none is missed or reordered. */
  pending: LiveUpdate[] | null;
  /** Set once an update was skipped for this (slow) client; it is told with a gap message. */
  lagging: boolean;
}

export function newViewer(sink: LiveSink): Viewer {
  return { sink, lastSeq: -1, epoch: '', wireEpoch: '', pending: [], lagging: false };
}

/**
 * A connection's sink that is its own viewer: what the rooms read and write for each connection on
 * every update (pending, seq, epoch, lagging, and the sink's socket) is one object, not two; at
 * thousands of connections each is a cache miss per update. The transports' sinks extend it.
 */
export abstract class SinkViewer implements Viewer, LiveSink {
  lastSeq = -1;
  epoch = '';
  wireEpoch = '';
  pending: LiveUpdate[] | null = [];
  lagging = false;
  abstract readonly format: LiveFormat;
  get sink(): LiveSink {
    return this;
  }
  abstract isOpen(): boolean;
  abstract buffered(): number;
  abstract control(msg: ServerMessage | HelloMessage): void;
  abstract update(e: EncodedUpdate, withEpoch: boolean): void;
}

/** The catalogue order compact frames index into (GET /v1/emojis's order). */
export class EmojiIndex {
  readonly map: ReadonlyMap<string, number>;
  constructor(readonly emojis: readonly string[]) {
    this.map = new Map(emojis.map((e, i) => [e, i]));
  }
}

/**
 * One update in every encoding a connection may need, each built on first use and then shared:
 * the JSON text and WebSocket frame, the compact bytes with and without the epoch, the SSE events.
 * So a match's update is serialised once per profile and transport, never once per connection.
 */
export class EncodedUpdate {
  #json: string | undefined;
  #wsJson: SharedFrame | undefined;
  readonly #compact: Array<Uint8Array | undefined> = [undefined, undefined];
  readonly #wsCompact: Array<SharedFrame | undefined> = [undefined, undefined];
  // Indexed by sseSlot (format and epoch flag): a lookup per connection per update, so no key string
  // is built and hashed for each write.
  readonly #sse: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined];
  readonly #sseChunk: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined];

  constructor(
    readonly type: 'snapshot' | 'update',
    readonly u: LiveUpdate,
    readonly viewers: number,
    private readonly index: EmojiIndex,
  ) {}

  json(): string {
    return (this.#json ??= JSON.stringify({ type: this.type, ...this.u, viewers: this.viewers } satisfies ServerMessage));
  }

  compact(withEpoch: boolean): Uint8Array {
    const k = withEpoch ? 1 : 0;
    return (this.#compact[k] ??= encodeCompact({ ...this.u, type: this.type, viewers: this.viewers }, withEpoch, this.index.map));
  }

  wsFrame(format: LiveFormat, withEpoch: boolean): SharedFrame {
    if (format === 'json') return (this.#wsJson ??= SharedFrame.of(this.json()));
    const k = withEpoch ? 1 : 0;
    return (this.#wsCompact[k] ??= SharedFrame.binary(this.compact(withEpoch)));
  }

  /** The SSE event: `id:` is the resume position (epoch.seq, what Last-Event-ID sends back). */
  sseEvent(format: LiveFormat, withEpoch: boolean): Buffer {
    const k = sseSlot(format, withEpoch);
    let b = this.#sse[k];
    if (b === undefined) {
      const data = format === 'json' ? this.json() : toBase64(this.compact(withEpoch));
      b = this.#sse[k] = Buffer.from(`id:${sseId(this.u.epoch, this.u.seq)}\ndata:${data}\n\n`);
    }
    return b;
  }

  /** sseEvent in the chunked transfer coding, for a raw write past the response (see SseSink). */
  sseChunk(format: LiveFormat, withEpoch: boolean): Buffer {
    const k = sseSlot(format, withEpoch);
    let b = this.#sseChunk[k];
    if (b === undefined) {
      const ev = this.sseEvent(format, withEpoch);
      b = this.#sseChunk[k] = Buffer.concat([Buffer.from(`${ev.length.toString(16)}\r\n`), ev, Buffer.from('\r\n')]);
    }
    return b;
  }
}

function sseSlot(format: LiveFormat, withEpoch: boolean): number {
  return (format === 'json' ? 0 : 2) + (withEpoch ? 1 : 0);
}

export function sseId(epoch: string, seq: number): string {
  return `${epoch}.${seq}`;
}

/** Last-Event-ID back into since/epoch; undefined when it is not one this server sent. */
export function parseSseId(id: string | undefined): { since: number; epoch: string } | undefined {
  const m = id === undefined ? null : /^([A-Za-z0-9_-]{1,64})\.(-?[0-9]{1,15})$/.exec(id);
  return m ? { epoch: m[1]!, since: Number(m[2]) } : undefined;
}

export interface SessionDeps {
  bus: FanoutBus;
  rooms: {
    join(matchId: string, v: Viewer): Promise<void>;
    totalViewers(matchId: string): number;
    sendUpdate(v: Viewer, u: LiveUpdate, e: EncodedUpdate): void;
    readonly emojiIndex: EmojiIndex;
  };
  metrics: Metrics;
  windowMs: number;
}

/**
 * The transport-neutral start of a live connection: joins the room (so updates published
 * meanwhile wait in `pending`), then sends the snapshot, or the replay after since/epoch, or a gap
 * and what follows it, then what arrived meanwhile. The same for every transport.
 */
export async function startSession(d: SessionDeps, matchId: string, viewer: Viewer, resume: { since: number; epoch: string } | undefined): Promise<void> {
  await d.rooms.join(matchId, viewer);
  const epoch = await d.bus.epoch();
  const viewers = () => d.rooms.totalViewers(matchId);
  const sink = viewer.sink;
  if (sink.format === 'compact') {
    sink.control({ type: 'hello', format: 'compact', windowMs: d.windowMs, epoch, emojis: [...d.rooms.emojiIndex.emojis] });
    viewer.wireEpoch = epoch;
  }
  const deliver = (type: 'snapshot' | 'update', u: LiveUpdate) => {
    if (!sink.isOpen()) return;
    sink.update(new EncodedUpdate(type, u, viewers(), d.rooms.emojiIndex), viewer.wireEpoch !== u.epoch);
    viewer.lastSeq = u.seq;
    viewer.epoch = u.epoch;
    viewer.wireEpoch = u.epoch;
    d.metrics.wsMessagesSent.inc();
  };
  if (resume !== undefined) {
    const { since } = resume;
    const r = await d.bus.replay(matchId, since, resume.epoch);
    const latest = r.kind === 'replay' && r.updates.length === 0 ? await d.bus.latest(matchId) : undefined;
    if (r.kind === 'replay' && since >= 0 && r.updates.length === 0 && (latest === undefined || latest === null || latest.epoch !== resume.epoch || latest.seq < since)) {
      // The client claims a seq this server never published: resuming there would mute it until
      // the server caught up. Say so, and restart it from the latest window.
      sink.control({ type: 'gap', matchId, epoch, since, reason: 'since-ahead' });
      if (latest) deliver('snapshot', latest);
    } else if (r.kind === 'replay') {
      viewer.lastSeq = since;
      viewer.epoch = resume.epoch;
      for (const u of r.updates) deliver('update', u);
    } else {
      sink.control({ type: 'gap', matchId, epoch, since, reason: r.reason });
      // A new epoch's history is whole from its first update: the client gets all of it, not
      // only the latest, so what was published since the old history was lost still arrives.
      const fresh = r.reason === 'epoch-changed' ? await d.bus.replay(matchId, -1, epoch) : undefined;
      if (fresh?.kind === 'replay' && fresh.updates.length > 0) {
        for (const u of fresh.updates) deliver('update', u);
      } else if (r.latest) {
        deliver('snapshot', r.latest);
      }
    }
  } else {
    const latest = await d.bus.latest(matchId);
    if (latest) deliver('snapshot', latest);
  }
  viewer.epoch = viewer.epoch === '' ? epoch : viewer.epoch;
  const pending = viewer.pending ?? [];
  viewer.pending = null;
  for (const u of pending) {
    if (u.epoch === viewer.epoch && u.seq <= viewer.lastSeq) continue;
    d.rooms.sendUpdate(viewer, u, new EncodedUpdate('update', u, viewers(), d.rooms.emojiIndex));
  }
}
