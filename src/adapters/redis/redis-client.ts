import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** Where the bus's Redis is: one address, or a primary found (and followed) through Sentinel. */
export interface RedisTarget {
  url: string;
  /** host:port of each Sentinel; when given, `url` contributes only username, password, db and TLS. */
  sentinels?: string[];
  /** The name the Sentinels monitor the primary by. */
  sentinelName?: string;
}

/**
 * One ioredis client for `target`. Through Sentinel, ioredis asks a Sentinel for the primary at
 * every (re)connection, and `failoverDetector` drops the connection as soon as a Sentinel
 * announces +switch-master, so a failover is followed even when the old primary is still reachable.
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions): Redis {
  if (!target.sentinels || target.sentinels.length === 0) return new Redis(target.url, options);
  const u = new URL(target.url);
  const db = Number(u.pathname.slice(1) || 0);
  return new Redis({
    ...options,
    sentinels: target.sentinels.map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    }),
    name: target.sentinelName ?? 'emostream',
    role: 'master',
    failoverDetector: true,
    ...(Number.isInteger(db) ? { db } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
  });
}

/** For messages: which Redis a target names. */
export function describeRedisTarget(target: RedisTarget): string {
  return target.sentinels && target.sentinels.length > 0 ? `primary '${target.sentinelName ?? 'emostream'}' via Sentinels ${target.sentinels.join(',')}` : target.url;
}

export interface ReplaceWhenEndedOptions {
  /** Which client this is, for the logs. */
  name: string;
  /** A new client, not yet connected. */
  open: () => Redis;
  /** Readies a new client before it takes over (connect, resubscribe); a throw retries with backoff. */
  prepare: (client: Redis) => Promise<void>;
  /** Hands the ready client to its owner. */
  adopt: (client: Redis) => void;
  /** The owner closed: stop replacing. */
  closed: () => boolean;
  logger: Logger;
}

/**
 * ioredis normally reconnects by itself, but a connect attempt that fails inside its connector
 * (seen through Sentinel during a failover, and when Redis is unreachable as a client starts)
 * leaves the client in status `end` for good, every command answering "Connection is closed."
 * (the cluster tier's fan-out node stayed so for 90 s; ioredis issue #1683). A client that ends
 * while its owner is open is replaced by a new one, retried with backoff until one is ready.
 */
export function replaceWhenEnded(client: Redis, o: ReplaceWhenEndedOptions): void {
  const watch = (c: Redis): void => {
    const onEnd = (): void => {
      if (!o.closed()) void replace();
    };
    if (c.status === 'end') onEnd();
    else c.once('end', onEnd);
  };
  const replace = async (): Promise<void> => {
    o.logger.warn({ client: o.name }, 'redis client ended; replacing it');
    for (let attempt = 1; !o.closed(); attempt++) {
      const c = o.open();
      try {
        await o.prepare(c);
        if (o.closed()) {
          c.disconnect();
          return;
        }
        o.adopt(c);
        watch(c);
        o.logger.info({ client: o.name, attempt }, 'redis client replaced');
        return;
      } catch (err) {
        c.removeAllListeners('end');
        c.disconnect();
        o.logger.warn({ err, client: o.name, attempt }, 'redis client replacement failed; retrying');
        // Unref'd: a pending retry never holds a closing process open.
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)).unref());
      }
    }
  };
  watch(client);
}
