import type { Logger } from 'pino';
import type { LiveUpdate } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FanoutBus, UpdateListener } from '../ports/bus.js';
import { EmojiIndex, EncodedUpdate, type Viewer } from './session.js';
import type { ServerMessage } from './wire.js';

export type { Viewer } from './session.js';

interface Room {
  viewers: Set<Viewer>;
  listener: UpdateListener;
  /** Cluster-wide viewer count (presence), refreshed on joins, leaves and a timer. */
  total: number;
  subscribed: Promise<void>;
  /** Last update this room broadcast: the next one must link to it (prevSeq) or a gap is filled. */
  lastSeq: number;
  epoch: string;
  /** Updates are handled one after another, so a gap fill cannot reorder them. */
  chain: Promise<void>;
  /** A presence refresh in flight, and whether joins or leaves came in meanwhile. */
  refreshing: Promise<void> | undefined;
  refreshAgain: boolean;
}

/**
 * A room per match on this node. The bus channel is subscribed when the first viewer joins and
 * dropped when the last leaves. One serialisation per update per room; a slow socket is skipped,
 * never waited for.
 */
export class Rooms {
  readonly #rooms = new Map<string, Room>();
  readonly #presenceTimer: NodeJS.Timeout;
  /** The catalogue order compact frames index into. */
  readonly emojiIndex: EmojiIndex;

  constructor(
    private readonly bus: FanoutBus,
    private readonly o: { nodeId: string; maxBufferedBytes: number; presenceIntervalMs: number; metrics: Metrics; logger: Logger; emojis?: readonly string[] },
  ) {
    this.emojiIndex = new EmojiIndex(o.emojis ?? []);
    this.#presenceTimer = setInterval(() => void this.#refreshAll(), o.presenceIntervalMs);
    this.#presenceTimer.unref();
  }

  async join(matchId: string, viewer: Viewer): Promise<void> {
    let room = this.#rooms.get(matchId);
    if (!room) {
      const r: Room = {
        viewers: new Set(),
        listener: (u) => this.#receive(r, u),
        total: 0,
        subscribed: Promise.resolve(),
        lastSeq: -1,
        epoch: '',
        chain: Promise.resolve(),
        refreshing: undefined,
        refreshAgain: false,
      };
      r.subscribed = this.bus.subscribe(matchId, r.listener);
      // The room's first update is checked like every other: against the latest in history when
      // the room opened, so a hole right after the join is filled (or told) too.
      r.chain = r.subscribed.then(async () => {
        const latest = await this.bus.latest(matchId);
        if (latest && r.lastSeq < 0) {
          r.lastSeq = latest.seq;
          r.epoch = latest.epoch;
        }
      }).catch((err) => this.o.logger.warn({ err, matchId }, 'room history check failed'));
      this.#rooms.set(matchId, r);
      room = r;
    }
    room.viewers.add(viewer);
    await room.subscribed;
    await this.#refresh(matchId, room);
  }

  async leave(matchId: string, viewer: Viewer): Promise<void> {
    const room = this.#rooms.get(matchId);
    if (!room || !room.viewers.delete(viewer)) return;
    if (room.viewers.size === 0) {
      this.#rooms.delete(matchId);
      await Promise.all([this.bus.unsubscribe(matchId, room.listener), this.bus.setPresence(this.o.nodeId, matchId, 0)]);
    } else {
      await this.#refresh(matchId, room);
    }
  }

  totalViewers(matchId: string): number {
    const room = this.#rooms.get(matchId);
    return room ? Math.max(room.total, room.viewers.size) : 0;
  }

  /** Coalesced: a thousand joins during one round trip cost two presence updates, not a thousand. */
  #refresh(matchId: string, room: Room): Promise<void> {
    if (room.refreshing) {
      room.refreshAgain = true;
      return room.refreshing;
    }
    room.refreshing = (async () => {
      do {
        room.refreshAgain = false;
        await this.#refreshOnce(matchId, room);
      } while (room.refreshAgain);
    })().finally(() => {
      room.refreshing = undefined;
    });
    return room.refreshing;
  }

  async #refreshOnce(matchId: string, room: Room): Promise<void> {
    try {
      await this.bus.setPresence(this.o.nodeId, matchId, room.viewers.size);
      room.total = await this.bus.viewers(matchId);
    } catch (err) {
      this.o.logger.warn({ err, matchId }, 'presence update failed');
    }
  }

  async #refreshAll(): Promise<void> {
    for (const [matchId, room] of this.#rooms) await this.#refresh(matchId, room);
  }

  /**
   * Pub/sub is fire-and-forget: while this node's bus connection was down, updates went by. An
   * update whose prevSeq is past the last one seen here reveals that, and the history fills it in
   * before the update is passed on, so the viewers of this node see no hole. What the history no
   * longer holds is told to the viewers as a gap, never skipped silently; so is a new epoch.
   */
  #receive(room: Room, u: LiveUpdate): void {
    room.chain = room.chain
      .then(async () => {
        let since: number | undefined;
        if (room.lastSeq >= 0 && u.epoch !== room.epoch) {
          // The old epoch's history is gone (told), but the new one is whole from its first update:
          // updates of it published before this one reached the node are replayed, not skipped.
          this.#tellGap(room, u, 'epoch-changed');
          if (u.prevSeq >= 0) since = -1;
        } else if (room.lastSeq >= 0 && u.prevSeq > room.lastSeq) {
          since = room.lastSeq;
        }
        if (since !== undefined) {
          const r = await this.bus.replay(u.matchId, since, u.epoch);
          if (r.kind === 'replay') {
            this.o.metrics.fanoutGaps.inc({ reason: 'filled' });
            for (const missed of r.updates) if (missed.seq < u.seq) this.#broadcast(room, missed);
          } else {
            this.#tellGap(room, u, r.reason);
          }
        }
        this.#broadcast(room, u);
      })
      .catch((err) => this.o.logger.warn({ err, matchId: u.matchId }, 'room delivery failed'));
  }

  #tellGap(room: Room, u: LiveUpdate, reason: 'history-trimmed' | 'epoch-changed'): void {
    this.o.metrics.fanoutGaps.inc({ reason });
    const msg: ServerMessage = { type: 'gap', matchId: u.matchId, epoch: u.epoch, since: room.lastSeq, reason };
    for (const v of room.viewers) {
      if (v.pending) continue; // still joining: its own snapshot/replay covers this
      // A viewer that joined inside the new epoch has nothing to be told of it.
      if (reason === 'epoch-changed' && v.epoch === u.epoch) continue;
      if (v.sink.isOpen()) v.sink.control(msg);
    }
  }

  #broadcast(room: Room, u: LiveUpdate): void {
    if (u.epoch === room.epoch && u.seq <= room.lastSeq) return;
    room.lastSeq = u.seq;
    room.epoch = u.epoch;
    let encoded: EncodedUpdate | undefined;
    let sent = 0;
    // Per viewer, only what differs by viewer is read: the update's fields and the bound are
    // hoisted out of the loop, and with the transports' sinks (SinkViewer) viewer and sink are one
    // object.
    const { seq, epoch } = u;
    const max = this.o.maxBufferedBytes;
    for (const v of room.viewers) {
      const pending = v.pending;
      if (pending !== null) {
        pending.push(u);
        continue;
      }
      if (seq <= v.lastSeq && epoch === v.epoch) continue;
      // Serialised and framed once per update and profile, not once per connection: the same
      // bytes go to every viewer of a profile and transport.
      encoded ??= new EncodedUpdate('update', u, this.totalViewers(u.matchId), this.emojiIndex);
      if (this.#send(v, u, encoded, max)) sent++;
    }
    if (sent > 0) this.o.metrics.wsMessagesSent.inc(sent);
  }

  /** Sends unless the socket's queue is past the bound; a skipped client is told once it drains. */
  sendUpdate(v: Viewer, u: LiveUpdate, e: EncodedUpdate): void {
    if (this.#send(v, u, e, this.o.maxBufferedBytes)) this.o.metrics.wsMessagesSent.inc();
  }

  #send(v: Viewer, u: LiveUpdate, e: EncodedUpdate, maxBufferedBytes: number): boolean {
    const sink = v.sink;
    if (!sink.isOpen()) return false;
    if (sink.buffered() > maxBufferedBytes) {
      v.lagging = true;
      this.o.metrics.wsMessagesDropped.inc();
      return false;
    }
    if (v.lagging) {
      // It missed updates after lastSeq: say so; the SDK resumes from lastSeq out of history.
      sink.control({ type: 'gap', matchId: u.matchId, epoch: v.epoch, since: v.lastSeq, reason: 'slow-consumer' });
      v.lagging = false;
      return false;
    }
    // A compact client not yet told this epoch gets the frame that carries it (built once too).
    const epoch = u.epoch;
    sink.update(e, v.wireEpoch !== epoch);
    v.lastSeq = u.seq;
    v.epoch = epoch;
    v.wireEpoch = epoch;
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.#presenceTimer);
    for (const [matchId, room] of this.#rooms) {
      await this.bus.unsubscribe(matchId, room.listener).catch(() => {});
      await this.bus.setPresence(this.o.nodeId, matchId, 0).catch(() => {});
    }
    this.#rooms.clear();
  }
}
