import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { directStream, SharedFrame, writeShared } from '../../src/fanout/frame.js';

// Real ws server and clients over loopback: the frame bytes written past ws's Sender must be what
// a standard client parses, in order with what ws itself sends.
const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function pair(perMessageDeflate: boolean): Promise<{ server: WebSocket; client: WebSocket; received: string[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  servers.push(wss);
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate });
  const received: string[] = [];
  client.on('message', (d, isBinary) => {
    expect(isBinary).toBe(false);
    received.push(d.toString());
  });
  const [[server]] = await Promise.all([once(wss, 'connection') as Promise<[WebSocket]>, once(client, 'open')]);
  return { server, client, received };
}

/** Resolves once `cond` holds, checked as each message reaches the clients (no polling, no fixed delay). */
function until(clients: WebSocket[], cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!cond()) return;
      for (const c of clients) c.off('message', check);
      resolve();
    };
    for (const c of clients) c.on('message', check);
    check();
  });
}

describe('SharedFrame / writeShared', () => {
  it('frames short, 16-bit and 64-bit lengths that a ws client reads, in order with ws.send', async () => {
    const { server, client, received } = await pair(false);
    const texts = ['{"a":1}', 'x'.repeat(200), 'é'.repeat(40_000), 'y'.repeat(70_000)];
    for (const t of texts) {
      writeShared(server, SharedFrame.of(t));
      server.send(`after:${t.length}`);
    }
    await until([client], () => received.length === texts.length * 2);
    expect(received).toEqual(texts.flatMap((t) => [t, `after:${t.length}`]));
  });

  it('one frame, many sockets: every client gets the same message', async () => {
    const pairs = await Promise.all([pair(false), pair(false), pair(false)]);
    const f = SharedFrame.of('{"type":"update","seq":7}');
    for (const p of pairs) writeShared(p.server, f);
    await until(pairs.map((p) => p.client), () => pairs.every((p) => p.received.length === 1));
    for (const p of pairs) expect(p.received).toEqual(['{"type":"update","seq":7}']);
  });

  it('goes through ws when compression was negotiated, so a compressed message in flight is not overtaken', async () => {
    const { server, client, received } = await pair(true);
    expect(server.extensions).toContain('permessage-deflate');
    server.send('z'.repeat(5000)); // deflated asynchronously: the Sender is busy
    writeShared(server, SharedFrame.of('second'));
    await until([client], () => received.length === 2);
    expect(received).toEqual(['z'.repeat(5000), 'second']);
  });

  it('counts written bytes in bufferedAmount, so the slow-consumer bound still sees them', async () => {
    const { server, client } = await pair(false);
    client.pause();
    const f = SharedFrame.of('w'.repeat(64 * 1024));
    for (let i = 0; i < 200; i++) writeShared(server, f);
    expect(server.bufferedAmount).toBeGreaterThan(0);
    client.resume();
  });

  it('directStream: the TCP stream itself without compression (frames written there arrive in order with ws.send), none with it', async () => {
    const plain = await pair(false);
    const raw = directStream(plain.server);
    expect(raw).toBeDefined();
    raw!.write(SharedFrame.of('direct').frame);
    plain.server.send('after');
    await until([plain.client], () => plain.received.length === 2);
    expect(plain.received).toEqual(['direct', 'after']);
    expect(directStream((await pair(true)).server)).toBeUndefined();
  });
});
