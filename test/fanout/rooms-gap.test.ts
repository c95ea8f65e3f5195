// Rooms never leave a silent hole (issue 14): a lost pub/sub message is filled from history, or the
// viewers are told with a `gap` message; a new room's first update is checked too. Memory bus,
// wrapped so a test can lose deliveries the way a cut Redis subscriber connection does.
import { describe, expect, it, vi } from 'vitest';
import type { FanoutBus, UpdateListener } from '../../src/ports/bus.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { Rooms, type Viewer } from '../../src/fanout/rooms.js';
import type { LiveSink } from '../../src/fanout/session.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { agg } from './bus-suite.js';

/** The memory adapter, with a switch that drops deliveries (history is still written). */
class LossyBus extends MemoryBus {
  cut = false;
  override subscribe(matchId: string, listener: UpdateListener): Promise<void> {
    return super.subscribe(matchId, (u) => {
      if (!this.cut) listener(u);
    });
  }
  override unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A bus that can lose all its data the way a Redis restarted without persistence does: a fresh
 * memory adapter (new epoch, empty history) takes over, and subscriptions carry over to it.
 */
class RestartableBus implements FanoutBus {
  #inner = new MemoryBus({ historySize: 10 });
  readonly #subs: Array<[string, UpdateListener]> = [];
  cut = false;
  restart(): void {
    this.#inner = new MemoryBus({ historySize: 10 });
    for (const [m, l] of this.#subs) void this.#inner.subscribe(m, l);
  }
  epoch() { return this.#inner.epoch(); }
  publish(a: Parameters<FanoutBus['publish']>[0]) { return this.#inner.publish(a); }
  subscribe(matchId: string, listener: UpdateListener): Promise<void> {
    const l: UpdateListener = (u) => { if (!this.cut) listener(u); };
    this.#subs.push([matchId, l]);
    return this.#inner.subscribe(matchId, l);
  }
  unsubscribe(): Promise<void> { return Promise.resolve(); }
  latest(matchId: string) { return this.#inner.latest(matchId); }
  replay(matchId: string, since: number, epoch: string) { return this.#inner.replay(matchId, since, epoch); }
  setPresence(nodeId: string, matchId: string, viewers: number) { return this.#inner.setPresence(nodeId, matchId, viewers); }
  viewers(matchId: string) { return this.#inner.viewers(matchId); }
  close() { return this.#inner.close(); }
}

function fakeViewer(lastSeq = -1, epoch = '') {
  const sent: Array<{ type: string; seq?: number; reason?: string; since?: number }> = [];
  // A sink that records what the rooms send, decoded as a JSON client would read it.
  const sink: LiveSink = {
    format: 'json',
    isOpen: () => true,
    buffered: () => 0,
    control: (m) => sent.push(m as (typeof sent)[number]),
    update: (e) => sent.push(JSON.parse(e.json())),
  };
  const viewer: Viewer = { sink, lastSeq, epoch, wireEpoch: epoch, pending: null, lagging: false };
  return { viewer, sent };
}

function roomsOn(bus: FanoutBus): Rooms {
  return new Rooms(bus, { nodeId: 'n1', maxBufferedBytes: 1 << 20, presenceIntervalMs: 60_000, metrics: createMetrics(), logger: silentLogger });
}

function setup(historySize: number) {
  const bus = new LossyBus({ historySize });
  return { bus, rooms: roomsOn(bus) };
}

describe('Rooms: holes in the bus stream', () => {
  it('fills updates lost on the bus from history, in order', async () => {
    const { bus, rooms } = setup(10);
    const { viewer, sent } = fakeViewer();
    await rooms.join('m', viewer);
    await bus.publish(agg('m', 1));
    bus.cut = true;
    await bus.publish(agg('m', 2));
    await bus.publish(agg('m', 3));
    bus.cut = false;
    await bus.publish(agg('m', 4));
    await vi.waitFor(() => expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4]));
    expect(sent.every((m) => m.type === 'update')).toBe(true);
    await rooms.close();
  });

  it('sends a gap message when history no longer holds what was lost', async () => {
    const { bus, rooms } = setup(2);
    const { viewer, sent } = fakeViewer();
    await rooms.join('m', viewer);
    await bus.publish(agg('m', 1));
    bus.cut = true;
    for (const seq of [2, 3, 4, 5]) await bus.publish(agg('m', seq));
    bus.cut = false;
    await bus.publish(agg('m', 6));
    await vi.waitFor(() => expect(sent).toHaveLength(3));
    expect(sent.map((m) => [m.type, m.seq ?? m.since, m.reason])).toEqual([
      ['update', 1, undefined],
      ['gap', 1, 'history-trimmed'],
      ['update', 6, undefined],
    ]);
    await rooms.close();
  });

  it('after a new epoch, replays that epoch from its first update before the one in hand', async () => {
    const bus = new RestartableBus();
    const rooms = roomsOn(bus);
    const { viewer, sent } = fakeViewer();
    await rooms.join('m', viewer);
    await bus.publish(agg('m', 1));
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    // The bus loses its data; windows 2 and 3 are published into the new epoch before this node's
    // subscription is back, window 4 after it.
    bus.restart();
    bus.cut = true;
    await bus.publish(agg('m', 2));
    await bus.publish(agg('m', 3));
    bus.cut = false;
    await bus.publish(agg('m', 4));
    await vi.waitFor(() => expect(sent).toHaveLength(5));
    expect(sent.map((m) => [m.type, m.seq ?? m.since, m.reason])).toEqual([
      ['update', 1, undefined],
      ['gap', 1, 'epoch-changed'],
      ['update', 2, undefined],
      ['update', 3, undefined],
      ['update', 4, undefined],
    ]);
    await rooms.close();
  });

  it('does not tell a viewer that joined inside the new epoch of that epoch', async () => {
    const bus = new RestartableBus();
    const rooms = roomsOn(bus);
    const early = fakeViewer();
    await rooms.join('m', early.viewer);
    await bus.publish(agg('m', 1));
    await vi.waitFor(() => expect(early.sent).toHaveLength(1));
    bus.restart();
    bus.cut = true;
    const first = await bus.publish(agg('m', 2));
    // Joined after the restart, with the new epoch's snapshot, before the room heard of it.
    const late = fakeViewer(2, first!.epoch);
    await rooms.join('m', late.viewer);
    bus.cut = false;
    await bus.publish(agg('m', 3));
    await vi.waitFor(() => expect(late.sent).toHaveLength(1));
    await vi.waitFor(() => expect(early.sent).toHaveLength(4));
    expect(late.sent.map((m) => [m.type, m.seq])).toEqual([['update', 3]]);
    expect(early.sent.map((m) => [m.type, m.seq ?? m.reason])).toEqual([
      ['update', 1],
      ['gap', 'epoch-changed'],
      ['update', 2],
      ['update', 3],
    ]);
    await rooms.close();
  });

  it("checks a new room's first update against what its viewers were sent on joining", async () => {
    const { bus, rooms } = setup(10);
    const first = await bus.publish(agg('m', 5));
    // The viewer joined with the snapshot of seq 5; the room itself has seen nothing yet.
    const { viewer, sent } = fakeViewer(5, first!.epoch);
    await rooms.join('m', viewer);
    bus.cut = true;
    await bus.publish(agg('m', 6));
    bus.cut = false;
    await bus.publish(agg('m', 7));
    await vi.waitFor(() => expect(sent.map((m) => m.seq)).toEqual([6, 7]));
    await rooms.close();
  });
});
