import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { emoError } from '../domain/errors.js';

/**
 * Request bodies may come gzip-compressed (batches compress ~10x). The body limit of each route
 * applies to the decompressed bytes (Fastify counts what the stream yields), so a small bomb is
 * refused with 413 as soon as its output passes the limit; any other encoding is a 415.
 */
export function installContentEncoding(app: FastifyInstance): void {
  app.addHook('preParsing', async (req, _reply, payload) => {
    const raw = req.headers['content-encoding'];
    if (raw === undefined) return payload;
    const encoding = raw.trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return payload;
    if (encoding !== 'gzip' && encoding !== 'x-gzip') {
      throw emoError('UNSUPPORTED_ENCODING', `Content-Encoding ${JSON.stringify(raw)} is not supported; send gzip or identity`);
    }
    // Fastify compares Content-Length with the bytes received: those are the compressed ones.
    let encoded = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        encoded += chunk.length;
        done(null, chunk);
      },
    });
    const gunzip = createGunzip();
    payload.on('error', (err) => gunzip.destroy(err));
    payload.pipe(counter).pipe(gunzip);
    Object.defineProperty(gunzip, 'receivedEncodedLength', { get: () => encoded });
    return gunzip;
  });
}
