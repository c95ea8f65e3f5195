import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { InputWatch } from '../../src/stage/input-watch.js';
import { emoError } from '../../src/domain/errors.js';

/** A memory log with topic t (one partition), a consumer of group g on it, and send(n): n records to t. */
async function oneTopic() {
  const log = new MemoryLog({ defaultPartitions: 1 });
  await log.ensureTopics([{ name: 't', partitions: 1 }]);
  const producer = await log.producer();
  let sent = 0;
  const send = (n: number) => producer.send(Array.from({ length: n }, () => ({ topic: 't', key: 'k', value: Buffer.from(String(++sent)) })));
  return { log, consumer: await log.consumer({ groupId: 'g', topics: ['t'] }), send };
}

describe('InputWatch: an empty poll is idleness only when nothing waits', () => {
  it('idle with nothing waiting; waiting, then starved, while records wait and none arrive; idle again once they do', async () => {
    const { consumer, send } = await oneTopic();
    let now = 0;
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000 });
    watch.assignment({ assigned: [{ topic: 't', partition: 0 }], revoked: [] });
    expect(await watch.afterEmptyPoll()).toBe('idle');
    await send(1);
    // Asked of the log at most every checkEveryMs: the answer before stands until then.
    now = 50;
    expect(await watch.afterEmptyPoll()).toBe('idle');
    now = 200;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 1100;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 1250;
    expect(await watch.afterEmptyPoll()).toBe('starved');
    watch.received();
    expect(await consumer.poll(10, 10)).toHaveLength(1);
    now = 1400;
    expect(await watch.afterEmptyPoll()).toBe('idle');
  });

  it('a log that cannot say its lag (an outage) is waiting, never starved: the stage recovery owns outages', async () => {
    const { consumer, send } = await oneTopic();
    const lag = consumer.lag.bind(consumer);
    const progress = consumer.groupProgress!.bind(consumer);
    let away = true;
    consumer.lag = async (tp) => {
      if (away) throw emoError('LOG_UNAVAILABLE', 'watermarks not known');
      return lag(tp);
    };
    // Nobody reaches the log: not this consumer, nor the group's view (a fresh client, in Kafka).
    consumer.groupProgress = async () => {
      if (away) throw emoError('LOG_UNAVAILABLE', 'metadata not known');
      return progress();
    };
    let now = 0;
    const told: number[] = [];
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000, onLag: (_tp, l) => void told.push(l) });
    watch.assignment({ assigned: [{ topic: 't', partition: 0 }], revoked: [] });
    await send(1);
    for (now = 0; now <= 5000; now += 500) expect(await watch.afterEmptyPoll()).toBe('waiting');
    expect(told).toEqual([]);
    // The log answers again, records waiting: the outage's seconds did not count, the clock starts now.
    away = false;
    now = 5500;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    expect(told).toEqual([1]);
    now = 6600;
    expect(await watch.afterEmptyPoll()).toBe('starved');
  });

  it("holding partitions whose lag this client cannot ask while the group's view answers (a client that never reconnected): the group decides", async () => {
    const { log, consumer, send } = await oneTopic();
    consumer.lag = async () => {
      throw emoError('LOG_UNAVAILABLE', 'watermarks not known');
    };
    let now = 0;
    const told: number[] = [];
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000, onLag: (_tp, l) => void told.push(l) });
    watch.assignment({ assigned: [{ topic: 't', partition: 0 }], revoked: [] });
    // Nothing waits in the group's view: idle.
    expect(await watch.afterEmptyPoll()).toBe('idle');
    await send(3);
    now = 200;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    // The group commits (this member's commits still reach the coordinator): not starved.
    log.commit('g', [{ topic: 't', partition: 0, offset: 1 }]);
    now = 1500;
    expect(await watch.afterEmptyPoll()).toBe('idle');
    // Then nothing moves while records wait: starved after twice the bound.
    now = 1600;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 3500;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 3700;
    expect(await watch.afterEmptyPoll()).toBe('starved');
    expect(told).toEqual([]);
  });

  it("a client that cannot reach the log while a fresh one can (ownClientAway): starved after the bound, between the fresh client's answers too", async () => {
    const { consumer, send } = await oneTopic();
    await send(3);
    const progress = consumer.groupProgress!.bind(consumer);
    consumer.lag = async () => {
      throw emoError('LOG_UNAVAILABLE', 'all broker connections are down');
    };
    // As the Kafka adapter does: a fresh client answers at most every few checks, the own client's
    // failure stands in between.
    let asked = 0;
    consumer.groupProgress = async () => {
      if (asked++ % 3 !== 0) throw emoError('LOG_UNAVAILABLE', 'all broker connections are down');
      return { ...(await progress()), ownClientAway: true };
    };
    let now = 0;
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000 });
    watch.assignment({ assigned: [{ topic: 't', partition: 0 }], revoked: [] });
    const states: string[] = [];
    for (now = 0; now <= 1200; now += 200) states.push(await watch.afterEmptyPoll());
    // Fresh answers at 0, 600 and 1200 ms: starved at the first one past the bound, not twice it.
    expect(states).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'waiting', 'waiting', 'starved']);
  });

  it('holding no partition: idle while nothing waits or another member commits; starved once records wait that no member commits', async () => {
    const { log, consumer, send } = await oneTopic();
    let now = 0;
    // Nothing assigned: a member the group left out, or a standby beside the one that reads.
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000 });
    expect(await watch.afterEmptyPoll()).toBe('idle');
    await send(3);
    now = 200;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    // Another member reads and commits: the group moves, this one is idle.
    now = 400;
    log.commit('g', [{ topic: 't', partition: 0, offset: 1 }]);
    expect(await watch.afterEmptyPoll()).toBe('idle');
    // Then nobody commits any more, records still wait: starved after twice the bound (a join may take that long).
    now = 500;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 2400;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 2600;
    expect(await watch.afterEmptyPoll()).toBe('starved');
    log.commit('g', [{ topic: 't', partition: 0, offset: 3 }]);
    now = 2800;
    expect(await watch.afterEmptyPoll()).toBe('idle');
    // An outage (the group's progress cannot be asked) is not starvation, however long: the clock
    // starts once the log answers again, records waiting and nobody committing.
    await send(1);
    const progress = consumer.groupProgress!.bind(consumer);
    consumer.groupProgress = async () => {
      throw emoError('LOG_UNAVAILABLE', 'metadata not known');
    };
    now = 3000;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 9000;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    consumer.groupProgress = progress;
    now = 9200;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 11_300;
    expect(await watch.afterEmptyPoll()).toBe('starved');
  });

  it('holding no partition: a consumer whose group client does not answer while the log does is starved, on a clock of its own', async () => {
    const { consumer, send } = await oneTopic();
    await send(3);
    const progress = consumer.groupProgress!.bind(consumer);
    // The partitions' ends answer, the group's offsets do not (a consumer that never joined again).
    consumer.groupProgress = async () => ({ ...(await progress()), committed: undefined });
    let now = 0;
    const watch = new InputWatch({ consumer: () => consumer, now: () => now, checkEveryMs: 100, starvedAfterMs: 1000 });
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 1900;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 2100;
    expect(await watch.afterEmptyPoll()).toBe('starved');
    // The group's offsets answer again (a coordinator that moved, back): the clock starts afresh.
    watch.reset();
    now = 2200;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    consumer.groupProgress = progress;
    now = 3000;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 4500;
    expect(await watch.afterEmptyPoll()).toBe('waiting');
    now = 5100;
    expect(await watch.afterEmptyPoll()).toBe('starved');
  });
});
