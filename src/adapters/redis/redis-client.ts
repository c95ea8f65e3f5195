import { Redis, type RedisOptions } from 'ioredis';

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
