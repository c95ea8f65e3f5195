import type { Socket } from 'node:net';
import * as wsLib from 'ws';
import type { WebSocket } from 'ws';

// ws exports its Sender at run time but @types/ws does not declare it.
interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
const Sender = (wsLib as unknown as { Sender: { frame(data: Buffer, o: FrameOptions): Buffer[] } }).Sender;

/** The private parts of a ws socket that decide whether raw bytes may be written past its Sender. */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _state: number; _queue: unknown[] };
  _extensions?: Record<string, unknown>;
}

const TEXT = 1;
const BINARY = 2;
const SENDER_IDLE = 0;

/**
 * One update for many sockets: its payload and the whole WebSocket text (or binary) frame (header + payload),
 * built once. A server frame is unmasked, so the same bytes are valid on every connection.
 */
export class SharedFrame {
  readonly frame: Buffer;

  constructor(
    readonly payload: Buffer,
    readonly isBinary = false,
  ) {
    const parts = Sender.frame(payload, { fin: true, opcode: isBinary ? BINARY : TEXT, mask: false, readOnly: true, rsv1: false });
    this.frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  static of(text: string): SharedFrame {
    return new SharedFrame(Buffer.from(text));
  }

  static binary(bytes: Uint8Array): SharedFrame {
    return new SharedFrame(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), true);
  }
}

/**
 * Writes the prebuilt frame straight to the TCP stream: one write of shared bytes, no per-socket
 * framing, corking or allocation. Only when ws's Sender is idle (nothing queued behind a deflate or
 * a blob read, no compression negotiated) — otherwise the bytes would overtake or break what ws is
 * sending, so it goes through ws.send like any message.
 */
export function writeShared(socket: WebSocket, f: SharedFrame): void {
  const w = socket as unknown as WsInternals;
  const raw = w._socket;
  const sender = w._sender;
  if (
    raw !== undefined &&
    raw.writable &&
    sender !== undefined &&
    sender._state === SENDER_IDLE &&
    sender._queue.length === 0 &&
    w._extensions?.['permessage-deflate'] === undefined
  ) {
    raw.write(f.frame);
    return;
  }
  socket.send(f.payload, { binary: f.isBinary });
}

/**
 * The raw TCP stream of a ws socket when frames may be written to it directly for the connection's
 * whole life, else undefined. Without permessage-deflate ws's Sender writes every frame as it is
 * sent and never queues: it queues only behind a deflate in flight or a Blob being read, and
 * nothing here sends a Blob. So the check writeShared makes on every write (the Sender idle, no
 * compression) holds once it held at the handshake's end, and the per-update path need not read
 * the Sender's state for each socket (a few cache lines per connection per update, out of cache
 * at thousands of connections). undefined too when ws's internals are not the ones expected.
 */
export function directStream(socket: WebSocket): Socket | undefined {
  const w = socket as unknown as WsInternals;
  const sender = w._sender;
  if (w._socket === undefined || sender === undefined || sender._state !== SENDER_IDLE || !Array.isArray(sender._queue)) return undefined;
  if (w._extensions === undefined || w._extensions['permessage-deflate'] !== undefined) return undefined;
  return w._socket;
}
