import { REACTIONS_FORMATS, type ReactionsFormat } from '../domain/types.js';
import { emoError } from '../domain/errors.js';
import type { KafkaOptions } from './kafka-options.js';
import { loadAggregationDefaults, type AggregationRules } from './aggregation.js';
import { ackTimingProblems } from '../domain/windows.js';

export const ROLES = ['all', 'api', 'aggregator', 'publisher', 'fanout', 'archiver'] as const;
export type Role = (typeof ROLES)[number];

export interface Config {
  role: Role;
  host: string;
  port: number;
  logLevel: string;
  aggregation: AggregationRules;
  ingest: {
    /** Sustained reactions per second per user, and the burst a user may spend at once. */
    userRatePerSec: number;
    userBurst: number;
    /** The same per client: its API token when tokens are on, else its address (see TRUST_PROXY). */
    clientRatePerSec: number;
    clientBurst: number;
    /** Where the buckets live: this process, or Redis so that every API replica shares them. */
    rateLimitStore: 'memory' | 'redis';
    maxBatch: number;
    bodyLimitBytes: number;
    /** Plausible client ts: [now - pastMs, now + futureMs]; outside is a 400 (likely seconds, not ms). */
    pastMs: number;
    futureMs: number;
    /**
     * A reaction is acknowledged only if the log holds it at least this long before its window can
     * close (window end + grace): room for the log's visibility lag and clock differences between
     * API and aggregator nodes. Later, the client hears 503 and retries into an open window.
     */
    closeMarginMs: number;
    retryAfterSec: number;
  };
  log: {
    partitions: number;
    /** Records the in-memory log retains per topic before producers get 503 (backpressure). */
    capacity: number;
    /** ...and bytes (keys + values): packed records differ in size from single ones by 100×. */
    capacityBytes: number;
    reactionsTopic: string;
    aggregatesTopic: string;
    /** How the API writes reactions (src/codec/reaction-codec.ts); readers take both. */
    reactionsFormat: ReactionsFormat;
  };
  fanout: {
    historySize: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
    /** New live connections admitted per second per node and per address (4429 / 429 past them). */
    admitPerSec: number;
    admitPerIpPerSec: number;
    /** Bytes queued on one socket before that client is declared slow and skipped. */
    maxBufferedBytes: number;
    maxClientFrameBytes: number;
    pingIntervalMs: number;
    allowedOrigins: string[];
  };
  /** Behind a reverse proxy: take the client address from X-Forwarded-For (per-address limits). */
  trustProxy: boolean;
  /**
   * Limits of the HTTP server itself, so that a slow or stalled client costs a socket for a bounded
   * time (slowloris): Node's own timers, checked every `timeoutCheckMs`.
   */
  http: {
    /** Whole request, headers and body, from its first byte; then 408 and the socket is closed. */
    requestTimeoutMs: number;
    /** Headers alone: a request whose headers never end is closed after this. */
    headersTimeoutMs: number;
    /** A socket with no traffic at all for this long is closed (WebSockets excepted: they ping). */
    connectionTimeoutMs: number;
    /** An idle keep-alive socket between requests. Behind a load balancer, set it above the balancer's idle timeout. */
    keepAliveTimeoutMs: number;
    /** How often Node looks for requests past their timeouts (its default, 30 s, would double them). */
    timeoutCheckMs: number;
    /**
     * Open HTTP sockets per client address; 0 = no cap. A socket upgraded to a WebSocket leaves
     * this count for WS_MAX_CONNECTIONS_PER_IP's. Behind TRUST_PROXY every socket comes from the
     * proxy, so the cap counts requests in flight per forwarded address instead.
     */
    maxConnectionsPerIp: number;
  };
  /** Origins whose pages may call the API from a browser (CORS); empty = same origin only. */
  corsOrigins: string[];
  /**
   * Viewer identity from signed tokens (JWT): a secret (HS256) or public keys (RS256/ES256) from a
   * JWKS file or URL. With any of them set, a token's `sub` is the user a reaction counts for.
   */
  jwt: {
    secret: string;
    jwksFile: string;
    jwksUrl: string;
    issuer: string;
    audience: string;
    /** Clock difference tolerated on exp/nbf/iat. */
    leewaySec: number;
    /** How long a request waits for the JWKS URL's keys before it is answered 503 EMO_ERR_NOT_READY. */
    jwksTimeoutMs: number;
  };
  /** Wall-clock close check period for quiet matches. */
  punctuateMs: number;
  /** Liveness: a stage with work that made no progress (commit, publish) for this long answers /healthz 503. */
  stallTimeoutMs: number;
  /** A stage whose recovery from a dependency's fault keeps failing this long stops the process (one log line says why). */
  recoveryGiveUpMs: number;
  /** Which adapter backs each port: memory (embedded) or the real service. */
  adapters: { log: 'memory' | 'kafka'; registry: 'memory' | 'confluent'; bus: 'memory' | 'redis' };
  kafka: KafkaOptions;
  /** Confluent-compatible schema registry (Apicurio serves it at /apis/ccompat/v7). */
  registryUrl: string;
  /**
   * With `sentinels` (host:port list) the bus finds the primary through Redis Sentinel under
   * `sentinelName` and follows its failovers; `url` then supplies only credentials, db and TLS.
   */
  redis: { url: string; keyPrefix: string; presenceTtlSec: number; sentinels: string[]; sentinelName: string };
  /**
   * The window archive (roles all, archiver): `pglite` is PostgreSQL in process (embedded; kept in
   * `dir`, or in memory when `dir` is empty), `postgres` a server at `postgresUrl`. Matches whose last
   * window ended more than `retentionDays` ago are deleted (0 keeps them all).
   */
  archive: { adapter: 'pglite' | 'postgres'; dir: string; postgresUrl: string; retentionDays: number; sweepIntervalMs: number };
  /** This process's name in groups, transactional ids and presence. */
  instanceId: string;
  /** Bearer tokens accepted on the ingest and live routes; empty = open (local development). */
  apiTokens: string[];
}

type Env = Record<string, string | undefined>;

/**
 * The defaults that components constructed outside loadConfig (tests, benches, the memory log on
 * its own) fall back on: named once here, and loadConfig's defaults for the same settings. The
 * window rules' defaults are in schemas/aggregation.json (loadAggregationDefaults).
 */
export const DEFAULTS = {
  /** RETRY_AFTER_SEC */
  retryAfterSec: 1,
  /** LOG_PARTITIONS */
  logPartitions: 12,
  /** LOG_CAPACITY */
  logCapacity: 1_000_000,
  /** LOG_CAPACITY_BYTES */
  logCapacityBytes: 256 * 1024 * 1024,
  /** RECOVERY_GIVE_UP_MS */
  recoveryGiveUpMs: 60_000,
  /** ARCHIVE_SWEEP_INTERVAL_MS */
  archiveSweepIntervalMs: 3_600_000,
} as const;

class ConfigReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  /** `fallbackFrom` names where a default read from a file came from: it is checked like a set value. */
  int(name: string, fallback: number, min: number, max: number, fallbackFrom?: string): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') {
      if (fallbackFrom !== undefined && (!Number.isInteger(fallback) || fallback < min || fallback > max)) {
        this.problems.push(`${name}'s default ${JSON.stringify(fallback)} from ${fallbackFrom} must be an integer in [${min}, ${max}]`);
      }
      return fallback;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  }

  str(name: string, fallback: string, pattern?: RegExp): string {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (pattern && !pattern.test(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must match ${pattern}`);
      return fallback;
    }
    return raw;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  list(name: string, fallback: string[]): string[] {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    return raw.split(',').map((s) => s.trim()).filter(Boolean);
  }
}

/**
 * Reads and validates the whole configuration once; every bad value is reported, not just the first.
 * `overrides` (tests, benches) are merged over what the environment gives before the checks that
 * tie settings together, so an override cannot make a configuration the environment could not.
 */
export function loadConfig(env: Env = process.env, overrides: DeepPartial<Config> = {}): Config {
  const r = new ConfigReader(env);
  const agg = loadAggregationDefaults();
  const topic = /^[A-Za-z0-9._-]{1,200}$/;
  const aggFile = 'schemas/aggregation.json';
  // One Retry-After for every "the log cannot take it now" answer, whichever log adapter gives it.
  const retryAfterSec = r.int('RETRY_AFTER_SEC', DEFAULTS.retryAfterSec, 1, 3600);
  const read: Config = {
    role: r.oneOf('ROLE', 'all', ROLES),
    host: r.str('HOST', '127.0.0.1'),
    port: r.int('PORT', 8080, 0, 65535),
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    aggregation: {
      windowMs: r.int('WINDOW_MS', agg.windowMs, 100, 3_600_000, aggFile),
      graceMs: r.int('GRACE_MS', agg.graceMs, 0, 600_000, aggFile),
      unitScale: r.int('UNIT_SCALE', agg.unitScale, 1, 1_000_000_000, aggFile),
      topN: r.int('TOP_N', agg.topN, 1, 1000, aggFile),
      tsToleranceMs: r.int('TS_TOLERANCE_MS', agg.tsToleranceMs, 0, 600_000, aggFile),
    },
    ingest: {
      userRatePerSec: r.int('USER_RATE_PER_SEC', 20, 1, 1_000_000),
      userBurst: r.int('USER_BURST', 500, 1, 10_000_000),
      clientRatePerSec: r.int('CLIENT_RATE_PER_SEC', 2000, 1, 10_000_000),
      clientBurst: r.int('CLIENT_BURST', 20_000, 1, 100_000_000),
      rateLimitStore: r.oneOf('RATE_LIMIT_STORE', env.BUS_ADAPTER === 'redis' ? 'redis' : 'memory', ['memory', 'redis']),
      maxBatch: r.int('MAX_BATCH', 500, 1, 10_000),
      bodyLimitBytes: r.int('BODY_LIMIT_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
      pastMs: r.int('TS_PAST_MS', 86_400_000, 0, 7 * 86_400_000),
      futureMs: r.int('TS_FUTURE_MS', 86_400_000, 0, 7 * 86_400_000),
      closeMarginMs: r.int('ACK_CLOSE_MARGIN_MS', agg.ackCloseMarginMs, 0, 600_000, aggFile),
      retryAfterSec,
    },
    log: {
      partitions: r.int('LOG_PARTITIONS', DEFAULTS.logPartitions, 1, 10_000),
      capacity: r.int('LOG_CAPACITY', DEFAULTS.logCapacity, 1, 1_000_000_000),
      capacityBytes: r.int('LOG_CAPACITY_BYTES', DEFAULTS.logCapacityBytes, 1024, 64 * 1024 * 1024 * 1024),
      reactionsTopic: r.str('REACTIONS_TOPIC', 'emostream.reactions', topic),
      aggregatesTopic: r.str('AGGREGATES_TOPIC', 'emostream.aggregates', topic),
      reactionsFormat: r.oneOf('REACTIONS_FORMAT', 'packed', REACTIONS_FORMATS),
    },
    fanout: {
      historySize: r.int('HISTORY_SIZE', 300, 1, 1_000_000),
      maxConnections: r.int('WS_MAX_CONNECTIONS', 60_000, 1, 10_000_000),
      maxConnectionsPerIp: r.int('WS_MAX_CONNECTIONS_PER_IP', 100, 1, 10_000_000),
      // New live connections (WebSocket or SSE) per second: a reconnect storm is spread, not absorbed.
      admitPerSec: r.int('WS_ADMIT_PER_SEC', 2000, 1, 10_000_000),
      admitPerIpPerSec: r.int('WS_ADMIT_PER_IP_PER_SEC', 200, 1, 10_000_000),
      maxBufferedBytes: r.int('WS_MAX_BUFFERED_BYTES', 256 * 1024, 1024, 1024 * 1024 * 1024),
      maxClientFrameBytes: r.int('WS_MAX_CLIENT_FRAME_BYTES', 4096, 64, 1024 * 1024),
      pingIntervalMs: r.int('WS_PING_INTERVAL_MS', 30_000, 100, 3_600_000),
      allowedOrigins: r.list('WS_ALLOWED_ORIGINS', []),
    },
    trustProxy: r.oneOf('TRUST_PROXY', '0', ['0', '1']) === '1',
    http: {
      requestTimeoutMs: r.int('HTTP_REQUEST_TIMEOUT_MS', 15_000, 100, 600_000),
      headersTimeoutMs: r.int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      connectionTimeoutMs: r.int('HTTP_CONNECTION_TIMEOUT_MS', 120_000, 100, 3_600_000),
      keepAliveTimeoutMs: r.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 100, 600_000),
      timeoutCheckMs: r.int('HTTP_TIMEOUT_CHECK_MS', 1_000, 10, 30_000),
      maxConnectionsPerIp: r.int('HTTP_MAX_CONNECTIONS_PER_IP', 0, 0, 10_000_000),
    },
    corsOrigins: r.list('CORS_ORIGINS', []),
    jwt: {
      secret: r.str('JWT_SECRET', ''),
      jwksFile: r.str('JWT_JWKS_FILE', ''),
      jwksUrl: r.str('JWT_JWKS_URL', '', /^https?:\/\/\S+$/),
      issuer: r.str('JWT_ISSUER', ''),
      audience: r.str('JWT_AUDIENCE', ''),
      leewaySec: r.int('JWT_LEEWAY_SEC', 5, 0, 300),
      jwksTimeoutMs: r.int('JWT_JWKS_TIMEOUT_MS', 5_000, 100, 60_000),
    },
    punctuateMs: r.int('PUNCTUATE_MS', 250, 10, 60_000),
    stallTimeoutMs: r.int('STALL_TIMEOUT_MS', 30_000, 100, 3_600_000),
    recoveryGiveUpMs: r.int('RECOVERY_GIVE_UP_MS', DEFAULTS.recoveryGiveUpMs, 100, 86_400_000),
    adapters: {
      log: r.oneOf('LOG_ADAPTER', 'memory', ['memory', 'kafka']),
      registry: r.oneOf('REGISTRY_ADAPTER', 'memory', ['memory', 'confluent']),
      bus: r.oneOf('BUS_ADAPTER', 'memory', ['memory', 'redis']),
    },
    kafka: {
      brokers: r.str('KAFKA_BROKERS', '127.0.0.1:19092', /^[^,\s]+:\d+(,[^,\s]+:\d+)*$/),
      clientId: r.str('KAFKA_CLIENT_ID', 'emostream', /^[A-Za-z0-9._-]+$/),
      ackMode: r.oneOf('KAFKA_ACK_MODE', 'durable', ['durable', 'queued']),
      compression: r.oneOf('KAFKA_COMPRESSION', 'lz4', ['lz4', 'zstd', 'none']),
      lingerMs: r.int('KAFKA_LINGER_MS', 5, 0, 60_000),
      batchSize: r.int('KAFKA_BATCH_SIZE', 10_000, 1, 1_000_000),
      maxInFlight: r.int('KAFKA_MAX_IN_FLIGHT', 100_000, 1, 10_000_000),
      messageTimeoutMs: r.int('KAFKA_MESSAGE_TIMEOUT_MS', 30_000, 1000, 3_600_000),
      ackTimeoutMs: r.int('KAFKA_ACK_TIMEOUT_MS', 5_000, 100, 3_600_000),
      reactionsPartitions: r.int('KAFKA_REACTIONS_PARTITIONS', 12, 1, 10_000),
      replicationFactor: r.int('KAFKA_REPLICATION_FACTOR', 1, 1, 10),
      retryAfterSec,
      debug: r.str('KAFKA_DEBUG', '', /^[a-z]+(,[a-z]+)*$/),
    },
    registryUrl: r.str('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:18081/apis/ccompat/v7', /^https?:\/\/\S+$/),
    redis: {
      url: r.str('REDIS_URL', 'redis://127.0.0.1:16379', /^rediss?:\/\/\S+$/),
      keyPrefix: r.str('REDIS_KEY_PREFIX', 'emo:', /^[A-Za-z0-9:_.-]*$/),
      presenceTtlSec: r.int('PRESENCE_TTL_SEC', 10, 2, 3600),
      sentinels: r.list('REDIS_SENTINELS', []),
      sentinelName: r.str('REDIS_SENTINEL_NAME', 'emostream', /^[A-Za-z0-9._-]{1,64}$/),
    },
    apiTokens: r.list('API_TOKENS', []),
    archive: {
      adapter: r.oneOf('ARCHIVE_ADAPTER', 'pglite', ['pglite', 'postgres']),
      dir: r.str('ARCHIVE_DIR', ''),
      postgresUrl: r.str('POSTGRES_URL', 'postgres://emostream:emostream@127.0.0.1:25432/emostream', /^postgres(ql)?:\/\/\S+$/),
      retentionDays: r.int('ARCHIVE_RETENTION_DAYS', 30, 0, 36_500),
      sweepIntervalMs: r.int('ARCHIVE_SWEEP_INTERVAL_MS', DEFAULTS.archiveSweepIntervalMs, 1000, 86_400_000),
    },
    instanceId: r.str('INSTANCE_ID', `${process.pid}`, /^[A-Za-z0-9._-]{1,64}$/),
  };
  const config = merge(read, overrides);
  if (config.ingest.userBurst < config.ingest.maxBatch) {
    r.problems.push(`USER_BURST (${config.ingest.userBurst}) must be at least MAX_BATCH (${config.ingest.maxBatch}), or a full batch from one user could never be accepted`);
  }
  if (config.ingest.clientBurst < config.ingest.maxBatch) {
    r.problems.push(`CLIENT_BURST (${config.ingest.clientBurst}) must be at least MAX_BATCH (${config.ingest.maxBatch})`);
  }
  r.problems.push(...ackTimingProblems({ ...config.aggregation, closeMarginMs: config.ingest.closeMarginMs }));
  if (config.log.capacityBytes < config.ingest.bodyLimitBytes) {
    // Else one full request could be refused with 503 for ever: no amount of draining makes room.
    r.problems.push(`LOG_CAPACITY_BYTES (${config.log.capacityBytes}) must be at least BODY_LIMIT_BYTES (${config.ingest.bodyLimitBytes})`);
  }
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    // Node refuses a server whose headers may take longer than the whole request.
    r.problems.push(`HTTP_HEADERS_TIMEOUT_MS (${config.http.headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.http.requestTimeoutMs})`);
  }
  if ([config.jwt.secret, config.jwt.jwksFile, config.jwt.jwksUrl].filter(Boolean).length > 1) {
    r.problems.push('set only one of JWT_SECRET, JWT_JWKS_FILE and JWT_JWKS_URL');
  }
  if (config.jwt.secret !== '' && config.jwt.secret.length < 32) {
    // HS256 with a short secret can be brute-forced offline from one token.
    r.problems.push('JWT_SECRET must be at least 32 characters');
  }
  const badSentinel = config.redis.sentinels.find((h) => !/^[^\s:,]+:\d{1,5}$/.test(h));
  if (badSentinel !== undefined) r.problems.push(`REDIS_SENTINELS entry ${JSON.stringify(badSentinel)} must be host:port`);
  if (r.problems.length > 0) {
    throw emoError('CONFIG', `invalid configuration:\n  - ${r.problems.join('\n  - ')}`);
  }
  return config;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function merge<T>(base: T, over: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? merge(b, v as DeepPartial<typeof b>) : v;
  }
  return out as T;
}
