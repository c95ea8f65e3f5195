import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { emoError } from '../../domain/errors.js';
import type { LiveUpdate, WindowAggregate } from '../../domain/types.js';
import { newEpoch, replayFrom, type FanoutBus, type ReplayResult, type UpdateListener } from '../../ports/bus.js';
import { createRedisClient, describeRedisTarget, replaceWhenEnded, type RedisTarget } from './redis-client.js';

export interface RedisBusOptions extends RedisTarget {
  keyPrefix: string;
  historySize: number;
  /** A node's presence counts only while it keeps refreshing; a dead node's viewers expire after this. */
  presenceTtlSec: number;
  logger: Logger;
}

/*
 * Publish is one atomic script: dedupe on the match's latest seq, link prevSeq, stamp the epoch,
 * append to the bounded history stream, keep the latest snapshot, PUBLISH on the match's channel.
 * The JSON is spliced as text: Lua's cjson would re-print doubles with 14 digits and change the
 * sentiment every implementation must agree on.
 */
const PUBLISH_SCRIPT = `
local latestKey, histKey, epochKey, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local seq, body, freshEpoch, maxlen = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local last = redis.call('HGET', latestKey, 'seq')
if last and tonumber(last) >= seq then return false end
local epoch = redis.call('GET', epochKey)
if not epoch then
  epoch = freshEpoch
  redis.call('SET', epochKey, epoch)
end
-- prevSeq links only within one epoch: a latest left from another one (the epoch key alone was
-- lost) starts the new epoch's history afresh, at -1.
local prev = '-1'
if last and redis.call('HGET', latestKey, 'epoch') == epoch then prev = last end
local data = '{"prevSeq":' .. prev .. ',"epoch":"' .. epoch .. '",' .. string.sub(body, 2)
redis.call('HSET', latestKey, 'seq', seq, 'data', data, 'epoch', epoch)
redis.call('XADD', histKey, 'MAXLEN', maxlen, '*', 'seq', seq, 'data', data)
redis.call('PUBLISH', channel, data)
return data
`;

type Role = 'cmd' | 'sub';

/** A client of the bus, not yet connected: commands (with the publish script) or subscriptions. */
function openClient(o: RedisBusOptions, role: Role): Redis {
  const c = createRedisClient(o, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: role === 'cmd', connectionName: `emostream-${role}` });
  c.on('error', (err) => o.logger.warn({ err, client: role }, 'redis error'));
  if (role === 'cmd') c.defineCommand('emoPublish', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
  return c;
}

type PublishingRedis = Redis & { emoPublish(latest: string, hist: string, epoch: string, channel: string, seq: number, body: string, fresh: string, maxlen: number): Promise<string | null> };

/** The fan-out bus on Redis: pub/sub channel per match, a stream per match as bounded history, presence hashes. */
export class RedisBus implements FanoutBus {
  readonly #listeners = new Map<string, Set<UpdateListener>>();
  #closed = false;

  private constructor(
    private cmd: PublishingRedis,
    private sub: Redis,
    private readonly o: RedisBusOptions,
  ) {
    this.#listen(sub);
    this.#guard('cmd', cmd);
    this.#guard('sub', sub);
  }

  static async connect(o: RedisBusOptions): Promise<RedisBus> {
    const cmd = openClient(o, 'cmd') as PublishingRedis;
    const sub = openClient(o, 'sub');
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
    } catch (cause) {
      cmd.disconnect();
      sub.disconnect();
      throw emoError('CONFIG', `cannot connect to Redis at ${describeRedisTarget(o)}`, { cause });
    }
    await cmd.set(`${o.keyPrefix}epoch`, newEpoch(), 'NX');
    return new RedisBus(cmd, sub, o);
  }

  #listen(sub: Redis): void {
    sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
  }

  /** Each client is replaced if ioredis gives it up (see replaceWhenEnded). */
  #guard(role: Role, client: Redis): void {
    replaceWhenEnded(client, {
      name: role,
      open: () => openClient(this.o, role),
      prepare: async (c) => {
        await c.connect();
        if (role === 'sub') {
          this.#listen(c);
          // Updates published meanwhile are not lost to viewers: rooms fill a prevSeq hole from the history.
          const channels = [...this.#listeners.keys()].map((m) => this.#k('ch', m));
          if (channels.length > 0) await c.subscribe(...channels);
        }
      },
      adopt: (c) => {
        if (role === 'sub') this.sub = c;
        else this.cmd = c as PublishingRedis;
      },
      closed: () => this.#closed,
      logger: this.o.logger,
    });
  }

  #k(kind: string, matchId: string): string {
    // The hash tag keeps one match's keys in one slot on a Redis Cluster.
    return `${this.o.keyPrefix}${kind}:{${matchId}}`;
  }

  #onMessage(channel: string, message: string): void {
    const prefix = `${this.o.keyPrefix}ch:{`;
    if (!channel.startsWith(prefix)) return;
    const matchId = channel.slice(prefix.length, -1);
    let update: LiveUpdate;
    try {
      update = JSON.parse(message) as LiveUpdate;
    } catch (err) {
      // Malformed wire data is logged and dropped, never thrown inside the delivery loop.
      this.o.logger.warn({ err, channel }, 'dropping malformed bus message');
      return;
    }
    for (const l of this.#listeners.get(matchId) ?? []) {
      try {
        l(update);
      } catch (err) {
        this.o.logger.error({ err, matchId }, 'listener failed');
      }
    }
  }

  async epoch(): Promise<string> {
    const key = `${this.o.keyPrefix}epoch`;
    const e = await this.cmd.get(key);
    if (e) return e;
    // The key vanished (Redis lost its data): a new history starts under a new epoch.
    await this.cmd.set(key, newEpoch(), 'NX');
    return (await this.cmd.get(key))!;
  }

  async publish(a: WindowAggregate & { seq: number }): Promise<LiveUpdate | null> {
    const body = JSON.stringify({ ...a });
    const data = await this.cmd.emoPublish(
      this.#k('latest', a.matchId),
      this.#k('hist', a.matchId),
      `${this.o.keyPrefix}epoch`,
      this.#k('ch', a.matchId),
      a.seq,
      body,
      newEpoch(),
      this.o.historySize,
    );
    return data ? (JSON.parse(data) as LiveUpdate) : null;
  }

  async subscribe(matchId: string, listener: UpdateListener): Promise<void> {
    let set = this.#listeners.get(matchId);
    if (!set) {
      set = new Set();
      this.#listeners.set(matchId, set);
      try {
        await this.sub.subscribe(this.#k('ch', matchId));
      } catch (err) {
        // Left behind, the empty set would make the next subscribe skip the SUBSCRIBE for good.
        if (set.size === 0 && this.#listeners.get(matchId) === set) this.#listeners.delete(matchId);
        throw err;
      }
    }
    set.add(listener);
  }

  async unsubscribe(matchId: string, listener: UpdateListener): Promise<void> {
    const set = this.#listeners.get(matchId);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) {
      this.#listeners.delete(matchId);
      if (!this.#closed) await this.sub.unsubscribe(this.#k('ch', matchId));
    }
  }

  async latest(matchId: string): Promise<LiveUpdate | null> {
    const data = await this.cmd.hget(this.#k('latest', matchId), 'data');
    return data ? (JSON.parse(data) as LiveUpdate) : null;
  }

  async replay(matchId: string, since: number, epoch: string): Promise<ReplayResult> {
    if (epoch !== (await this.epoch())) return { kind: 'gap', reason: 'epoch-changed', latest: await this.latest(matchId) };
    const entries = await this.cmd.xrange(this.#k('hist', matchId), '-', '+');
    const history: LiveUpdate[] = [];
    for (const [, fields] of entries) {
      const i = fields.indexOf('data');
      if (i >= 0 && fields[i + 1] !== undefined) history.push(JSON.parse(fields[i + 1]!) as LiveUpdate);
    }
    return replayFrom(history, since, epoch);
  }

  async setPresence(nodeId: string, matchId: string, viewers: number): Promise<void> {
    const key = this.#k('presence', matchId);
    const alive = `${this.o.keyPrefix}node:${nodeId}`;
    const m = this.cmd.multi();
    if (viewers > 0) m.hset(key, nodeId, viewers).expire(key, 24 * 3600);
    else m.hdel(key, nodeId);
    m.set(alive, '1', 'EX', this.o.presenceTtlSec);
    await m.exec();
  }

  async viewers(matchId: string): Promise<number> {
    const key = this.#k('presence', matchId);
    const counts = await this.cmd.hgetall(key);
    const nodes = Object.keys(counts);
    if (nodes.length === 0) return 0;
    const alive = await this.cmd.mget(nodes.map((n) => `${this.o.keyPrefix}node:${n}`));
    let total = 0;
    const dead: string[] = [];
    nodes.forEach((n, i) => {
      if (alive[i]) total += Number(counts[n]);
      else dead.push(n);
    });
    if (dead.length > 0) await this.cmd.hdel(key, ...dead);
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await Promise.allSettled([this.sub.quit(), this.cmd.quit()]);
  }
}
