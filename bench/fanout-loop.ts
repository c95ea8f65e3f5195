// The rooms' per-connection loop alone, without sockets: Rooms (src/fanout/rooms.ts) broadcasting
// updates on the memory bus to N viewers whose sinks only count what they are given, against a bare
// loop over the same number of objects doing the same counting. CPU ns per client per update for
// each, so the JS the node adds per connection per update can be read apart from the kernel's
// write, which bench:fanout measures whole (node against its bare-ws floor).
//
// Env: BENCH_LOOP_CLIENTS (4000), BENCH_LOOP_UPDATES (2000).
import { pino } from 'pino';
import { Rooms } from '../src/fanout/rooms.js';
import { SinkViewer, type EncodedUpdate, type LiveFormat } from '../src/fanout/session.js';
import { MemoryBus } from '../src/adapters/memory/memory-bus.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { report } from './lib.js';

const N = Number(process.env.BENCH_LOOP_CLIENTS ?? 4000);
const U = Number(process.env.BENCH_LOOP_UPDATES ?? 2000);
let bytes = 0;

/** A WebSocket-like sink that takes the shared frame and counts its bytes. */
class CountingSink extends SinkViewer {
  readonly format: LiveFormat = 'json';
  isOpen(): boolean {
    return true;
  }
  buffered(): number {
    return 0;
  }
  control(): void {}
  update(e: EncodedUpdate, withEpoch: boolean): void {
    bytes += e.wsFrame(this.format, withEpoch).frame.length;
  }
}

const turn = () => new Promise((r) => setImmediate(r));
const cpuNs = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) * 1000;
};

const bus = new MemoryBus({ historySize: 10 });
const rooms = new Rooms(bus, { nodeId: 'bench', maxBufferedBytes: 1 << 20, presenceIntervalMs: 3_600_000, metrics: createMetrics(), logger: pino({ level: 'silent' }) });
const epoch = await bus.epoch();
const sinks = Array.from({ length: N }, () => new CountingSink());
for (const s of sinks) {
  await rooms.join('m', s);
  s.pending = null; // joined: the session would have sent the snapshot
  s.epoch = epoch;
  s.wireEpoch = epoch;
}
let seq = 1;
const publish = () => bus.publish({ matchId: 'm', seq: seq++, windowStart: 0, windowEnd: 2000, counts: { '🔥': 3 }, units: { '🔥': 1 }, total: 3, sentiment: 0.5 });
for (let i = 0; i < 200; i++) {
  await publish();
  await turn();
}
bytes = 0;
let t0 = process.cpuUsage();
for (let i = 0; i < U; i++) {
  await publish();
  await turn();
}
const roomsNs = cpuNs(t0) / (U * N);
const roomsBytes = bytes;

const set = new Set(sinks);
const frame = Buffer.from('x'.repeat(400));
bytes = 0;
t0 = process.cpuUsage();
for (let i = 0; i < U; i++) {
  for (const s of set) bytes += s.isOpen() ? frame.length : 0;
  await turn();
}
const bareNs = cpuNs(t0) / (U * N);
await rooms.close();
if (roomsBytes === 0 || bytes === 0) throw new Error('nothing was sent');
report('fanout-loop', [
  { loop: 'rooms (memory bus, counting sinks)', clients: N, updates: U, nsPerClientPerUpdate: +roomsNs.toFixed(1) },
  { loop: 'bare for-of over the sinks', clients: N, updates: U, nsPerClientPerUpdate: +bareNs.toFixed(1) },
], { note: 'CPU (user + system) of this process per client per update; no socket is written.' });
