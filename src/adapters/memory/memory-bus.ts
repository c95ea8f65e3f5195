import type { LiveUpdate, WindowAggregate } from '../../domain/types.js';
import { newEpoch, replayFrom, type FanoutBus, type ReplayResult, type UpdateListener } from '../../ports/bus.js';

/** In-process bus: embedded mode's fan-out, with the same contract as the Redis adapter. */
export class MemoryBus implements FanoutBus {
  readonly #epoch = newEpoch();
  readonly #history = new Map<string, LiveUpdate[]>();
  readonly #listeners = new Map<string, Set<UpdateListener>>();
  readonly #presence = new Map<string, Map<string, number>>();

  constructor(private readonly opts: { historySize: number; onListenerError?: (err: unknown) => void }) {}

  async epoch(): Promise<string> {
    return this.#epoch;
  }

  async publish(a: WindowAggregate & { seq: number }): Promise<LiveUpdate | null> {
    let history = this.#history.get(a.matchId);
    if (!history) {
      history = [];
      this.#history.set(a.matchId, history);
    }
    const last = history[history.length - 1];
    if (last && a.seq <= last.seq) return null;
    const update: LiveUpdate = { ...a, prevSeq: last ? last.seq : -1, epoch: this.#epoch };
    history.push(update);
    if (history.length > this.opts.historySize) history.splice(0, history.length - this.opts.historySize);
    for (const l of this.#listeners.get(a.matchId) ?? []) {
      try {
        l(update);
      } catch (err) {
        this.opts.onListenerError?.(err);
      }
    }
    return update;
  }

  async subscribe(matchId: string, listener: UpdateListener): Promise<void> {
    let set = this.#listeners.get(matchId);
    if (!set) {
      set = new Set();
      this.#listeners.set(matchId, set);
    }
    set.add(listener);
  }

  async unsubscribe(matchId: string, listener: UpdateListener): Promise<void> {
    const set = this.#listeners.get(matchId);
    set?.delete(listener);
    if (set?.size === 0) this.#listeners.delete(matchId);
  }

  async latest(matchId: string): Promise<LiveUpdate | null> {
    const h = this.#history.get(matchId);
    return h?.[h.length - 1] ?? null;
  }

  async replay(matchId: string, since: number, epoch: string): Promise<ReplayResult> {
    if (epoch !== this.#epoch) return { kind: 'gap', reason: 'epoch-changed', latest: await this.latest(matchId) };
    return replayFrom(this.#history.get(matchId) ?? [], since);
  }

  async setPresence(nodeId: string, matchId: string, viewers: number): Promise<void> {
    let nodes = this.#presence.get(matchId);
    if (!nodes) {
      nodes = new Map();
      this.#presence.set(matchId, nodes);
    }
    if (viewers > 0) nodes.set(nodeId, viewers);
    else nodes.delete(nodeId);
    if (nodes.size === 0) this.#presence.delete(matchId);
  }

  async viewers(matchId: string): Promise<number> {
    let n = 0;
    for (const v of this.#presence.get(matchId)?.values() ?? []) n += v;
    return n;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
