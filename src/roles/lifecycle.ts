import type { Logger } from 'pino';

/**
 * The order a role shuts down in, stated once. HTTP first, so no request is acknowledged into a
 * closing producer and WebSocket viewers are told the node is going; then the stages in flow
 * order: ingest flushes what it acknowledged into the log, the aggregator commits its last
 * windows, the publisher publishes what it has, the archiver writes what it read; the adapters (bus, rate limits, registry, log)
 * last, as every stage above uses them until it stops.
 */
export const CLOSE_ORDER = ['http', 'ingest', 'aggregator', 'publisher', 'archive', 'adapters'] as const;
export type LifecyclePhase = (typeof CLOSE_ORDER)[number];

/** What a role opened, closed phase by phase in CLOSE_ORDER; within a phase, last opened first. */
export class Lifecycle {
  readonly #closers = new Map<LifecyclePhase, Array<() => Promise<void>>>();
  #closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(phase: LifecyclePhase, close: () => Promise<void>): void {
    const list = this.#closers.get(phase) ?? [];
    list.push(close);
    this.#closers.set(phase, list);
  }

  /** Closes everything once (a second call waits for the first); a failing close is logged and the rest still close. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const phase of CLOSE_ORDER) {
        const list = this.#closers.get(phase) ?? [];
        this.#closers.delete(phase);
        for (const c of list.reverse()) await c().catch((err: unknown) => this.logger.error({ err, phase }, 'close failed'));
      }
    })();
    return this.#closing;
  }
}
