// The load side of `npm run bench:fanout`, run as a child process (IPC): opens `count` WebSocket
// clients on GET /v1/live, spread over several local addresses (127.0.0.x: each has its own ~28k
// ephemeral ports towards one server port), and stamps when each client receives the update the
// parent armed it for. Times are CLOCK_MONOTONIC (process.hrtime), the same clock in every process
// of the machine, so the parent can subtract its publish time.
//
// parent -> child: {type:'connect', url, count, localAddresses, concurrency}
//                  {type:'arm', round, seq}   {type:'collect', round}   {type:'close'}
// child -> parent: {type:'connected', open, failed, errors, ms, cpuMs, rss}
//                  {type:'armed', round}   {type:'received', round, times, complete, sample}
import http from 'node:http';
import { WebSocket } from 'ws';

// transport sse: GET /v1/live/events over plain HTTP; each event arrives as one chunk (one write).
// format compact: a JSON hello, then binary updates whose seq is the varint after the flags byte.
type Msg =
  | { type: 'connect'; url: string; count: number; localAddresses: string[]; concurrency: number; transport?: 'ws' | 'sse' }
  | { type: 'arm'; round: number; seq: number }
  | { type: 'collect'; round: number }
  | { type: 'close' };

const clock = () => Number(process.hrtime.bigint()) / 1e6;
const send = (m: unknown) => process.send!(m);
/** What the loader needs of a connection of either transport. */
interface Conn {
  isOpen(): boolean;
  terminate(): void;
}
const sockets: Conn[] = [];
let times = new Float64Array(0);
let armedRound = -1;
let armedSeq = -1;
let received = 0;
let reported = true;
let sample = '';
let closedAfterOpen = 0;
let openAtArm = 0;

function report(complete: boolean): void {
  if (reported) return;
  reported = true;
  send({ type: 'received', round: armedRound, times: Array.from(times), complete, sample, closedAfterOpen });
}

/** seq of a compact binary update: the varint after the flags byte. */
function compactSeq(b: Buffer): number {
  let x = 0;
  let mul = 1;
  for (let p = 1; p < b.length; p++) {
    x += (b[p]! & 0x7f) * mul;
    if (b[p]! < 0x80) return x;
    mul *= 128;
  }
  return -1;
}

function onMessage(i: number, data: Buffer, isBinary = false): void {
  if (armedRound < 0 || times[i] === times[i]) return; // not armed, or this client already stamped (NaN !== NaN)
  times[i] = clock();
  received++;
  // Check one client's message per round: it must be the armed update, not something else.
  if (i === 0) {
    const text = isBinary ? '' : data.toString();
    try {
      if (isBinary) sample = (data[0]! & 1) === 0 && compactSeq(data) === armedSeq ? 'ok' : `unexpected binary ${data.toString('hex')}`;
      else if (text.startsWith('id:')) sample = new RegExp(`^id:[^\\n]*\\.${armedSeq}\\n`).test(text) ? 'ok' : `unexpected ${text.slice(0, 120)}`;
      else {
        const m = JSON.parse(text) as { type?: string; seq?: number };
        sample = m.type === 'update' && m.seq === armedSeq ? 'ok' : `unexpected ${text.slice(0, 120)}`;
      }
    } catch {
      sample = 'unparseable';
    }
  }
  if (received === openAtArm) report(true);
}

function countOpen(): number {
  let n = 0;
  for (const s of sockets) if (s.isOpen()) n++;
  return n;
}

async function connect(m: Extract<Msg, { type: 'connect' }>): Promise<void> {
  const t0 = clock();
  const cpu0 = process.cpuUsage();
  const errors = new Map<string, number>();
  let failed = 0;
  let next = 0;
  const openSse = (i: number) =>
    new Promise<void>((resolve) => {
      const req = http.get(m.url, { localAddress: m.localAddresses[i % m.localAddresses.length], agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          failed++;
          errors.set(`HTTP ${res.statusCode}`, (errors.get(`HTTP ${res.statusCode}`) ?? 0) + 1);
          res.resume();
          return resolve();
        }
        let open = true;
        sockets.push({ isOpen: () => open, terminate: () => req.destroy() });
        const idx = sockets.length - 1;
        res.on('data', (chunk: Buffer) => onMessage(idx, chunk));
        res.on('close', () => {
          open = false;
          closedAfterOpen++;
        });
        resolve();
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        failed++;
        errors.set(err.code ?? err.message, (errors.get(err.code ?? err.message) ?? 0) + 1);
        resolve();
      });
    });
  const openOne = (i: number) =>
    m.transport === 'sse' ? openSse(i) : new Promise<void>((resolve) => {
      const ws = new WebSocket(m.url, { localAddress: m.localAddresses[i % m.localAddresses.length], perMessageDeflate: false, handshakeTimeout: 60_000 });
      let opened = false;
      const fail = (why: string) => {
        if (opened) return;
        failed++;
        errors.set(why, (errors.get(why) ?? 0) + 1);
        resolve();
      };
      ws.on('open', () => {
        opened = true;
        sockets.push({ isOpen: () => ws.readyState === WebSocket.OPEN, terminate: () => ws.terminate() });
        const idx = sockets.length - 1;
        ws.on('message', (data: Buffer, isBinary: boolean) => onMessage(idx, data, isBinary));
        resolve();
      });
      ws.on('unexpected-response', (_req, res) => {
        fail(`HTTP ${res.statusCode}`);
        ws.terminate();
      });
      ws.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      ws.on('close', () => {
        if (opened) closedAfterOpen++;
      });
    });
  const worker = async () => {
    while (next < m.count) await openOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(m.concurrency, m.count) }, worker));
  times = new Float64Array(sockets.length).fill(NaN);
  send({ type: 'connected', open: sockets.length, failed, errors: Object.fromEntries(errors), ms: clock() - t0, cpuMs: cpuMs(process.cpuUsage(cpu0)), rss: process.memoryUsage().rss });
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

process.on('message', (m: Msg) => {
  switch (m.type) {
    case 'connect':
      void connect(m);
      break;
    case 'arm':
      times.fill(NaN);
      received = 0;
      sample = '';
      reported = false;
      armedRound = m.round;
      armedSeq = m.seq;
      openAtArm = countOpen();
      send({ type: 'armed', round: m.round });
      break;
    case 'collect':
      if (m.round === armedRound) report(false);
      break;
    case 'close':
      for (const s of sockets) s.terminate();
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
