import { emoError } from '../domain/errors.js';

/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body. */
export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, HEADER_SIZE);
  return out;
}

export function readSchemaId(buf: Buffer): number {
  if (buf.length < HEADER_SIZE || buf[0] !== MAGIC_BYTE) {
    throw emoError('CODEC', 'record is not in Confluent wire format (magic byte 0 + 4-byte schema id)');
  }
  return buf.readUInt32BE(1);
}
