import type { FastifyRequest } from 'fastify';
import { emoError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../ports/clock.js';
import { CloseCodes } from '../wire/close-codes.js';

export interface AdmissionOptions {
  maxConnections: number;
  maxConnectionsPerIp: number;
  allowedOrigins: string[];
  /** New live connections a node takes per second, and per second from one address. */
  admitPerSec: number;
  admitPerIpPerSec: number;
  metrics: Metrics;
  clock: Clock;
}

/** Close code of a WebSocket refused by the connection-rate cap; the reason is the seconds to wait. */
export const RATE_LIMITED_CLOSE_CODE = CloseCodes.RATE_LIMITED;

/**
 * Who may open a live connection (WebSocket or SSE alike): the Origin allowlist, the caps on held
 * connections per node and per address, and the caps on *new* connections per second per node and
 * per address, so a reconnect storm (every viewer of a restarted node at once) is spread out
 * instead of taking this node down. Counted in one-second windows: no per-address state outlives
 * its second.
 */
export class Admission {
  readonly #perIp = new Map<string, number>();
  #held = 0;
  #second = -1;
  #admitted = 0;
  #admittedPerIp = new Map<string, number>();

  constructor(private readonly o: AdmissionOptions) {}

  get held(): number {
    return this.#held;
  }

  /** Throws the catalogue's refusal (403 / 503 / 429) for an origin or a held-connection cap. */
  check(req: FastifyRequest): void {
    const origin = req.headers.origin;
    if (this.o.allowedOrigins.length > 0 && origin !== undefined && !this.o.allowedOrigins.includes(origin)) {
      this.o.metrics.wsRejected.inc({ reason: 'origin' });
      throw emoError('ORIGIN_NOT_ALLOWED', `Origin ${origin} is not allowed`);
    }
    if (this.#held >= this.o.maxConnections) {
      this.o.metrics.wsRejected.inc({ reason: 'node-full' });
      throw emoError('NODE_FULL', 'This node holds its maximum of connections; try another', { retryAfterSec: 1 });
    }
    if ((this.#perIp.get(req.ip) ?? 0) >= this.o.maxConnectionsPerIp) {
      this.o.metrics.wsRejected.inc({ reason: 'ip-limit' });
      throw emoError('TOO_MANY_CONNECTIONS', undefined, { retryAfterSec: 5 });
    }
  }

  /**
   * Takes one new connection from the rate caps; over a cap, the seconds the client should wait.
   * The hint grows with the excess (excess / rate), so a storm's clients come back spread over as
   * many seconds as the node needs to take them, rather than all together a second later.
   */
  rate(ip: string): number | undefined {
    const sec = Math.floor(this.o.clock.now() / 1000);
    if (sec !== this.#second) {
      this.#second = sec;
      this.#admitted = 0;
      this.#admittedPerIp = new Map();
    }
    const fromIp = (this.#admittedPerIp.get(ip) ?? 0) + 1;
    this.#admittedPerIp.set(ip, fromIp);
    this.#admitted++;
    if (this.#admitted > this.o.admitPerSec) {
      this.o.metrics.wsRejected.inc({ reason: 'rate' });
      return 1 + Math.ceil((this.#admitted - this.o.admitPerSec) / this.o.admitPerSec);
    }
    if (fromIp > this.o.admitPerIpPerSec) {
      this.o.metrics.wsRejected.inc({ reason: 'ip-rate' });
      return 1 + Math.ceil((fromIp - this.o.admitPerIpPerSec) / this.o.admitPerIpPerSec);
    }
    return undefined;
  }

  add(ip: string): void {
    this.#held++;
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.o.metrics.wsConnections.inc();
  }

  remove(ip: string): void {
    this.#held--;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
    this.o.metrics.wsConnections.dec();
  }
}
