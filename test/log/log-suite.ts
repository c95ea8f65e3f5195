import { afterEach, describe, expect, it } from 'vitest';
import type { AssignmentChange, Log, LogConsumer, LogRecord, ProducerRecord, TopicPartition, TransactionalSession } from '../../src/ports/log.js';

export interface LogFactory {
  /** A log on the adapter's backend; each test uses topics and groups of its own on it. */
  create(): Promise<Log>;
  /** A unique topic or group name. */
  name(prefix: string): string;
  /**
   * Records the adapter refuses inside a transaction, so it aborts: over the memory log's capacity,
   * over Kafka's message size limit.
   */
  refusedRecords(topic: string): ProducerRecord[];
  /** Whether a second member of a group takes partitions over (Kafka); the memory log has one member per group. */
  rebalances: boolean;
  /** Longest a poll loop below may take to see what is already in the log (Kafka joins a group first). */
  readTimeoutMs: number;
}

const PARTITIONS = 3;
const END = '<end>';

/**
 * One suite, every adapter: the in-memory log and Kafka must behave the same wherever the
 * pipeline relies on it (the aggregator's and publisher's exactly-once loops are built on these).
 */
export function logContract(name: string, factory: LogFactory): void {
  describe(`Log contract: ${name}`, () => {
    const logs: Log[] = [];
    afterEach(async () => {
      for (const l of logs.splice(0).reverse()) await l.close();
    });
    const open = async () => {
      const log = await factory.create();
      logs.push(log);
      return log;
    };
    const topicOn = async (log: Log, prefix: string) => {
      const topic = factory.name(prefix);
      await log.ensureTopics([{ name: topic, partitions: PARTITIONS }]);
      return topic;
    };
    const records = (topic: string, n: number, from = 0): ProducerRecord[] =>
      Array.from({ length: n }, (_, i) => ({ topic, key: `k${(from + i) % 5}`, value: Buffer.from(`v${from + i}`) }));
    const values = (rs: LogRecord[]) => rs.map((r) => r.value.toString()).sort();

    /** Polls until `n` records came (fails past the factory's timeout, never waits on time alone). */
    async function readN(consumer: LogConsumer, n: number): Promise<LogRecord[]> {
      const got: LogRecord[] = [];
      const deadline = Date.now() + factory.readTimeoutMs;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`read ${got.length} of ${n} records in ${factory.readTimeoutMs} ms`);
        got.push(...(await consumer.poll(n - got.length, 200)));
      }
      return got;
    }

    /** Reads whatever the consumer sees until it is caught up on every partition of the topic. */
    async function readToEnd(consumer: LogConsumer, topic: string): Promise<LogRecord[]> {
      const got: LogRecord[] = [];
      const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
      const deadline = Date.now() + factory.readTimeoutMs;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`not caught up on ${topic} in ${factory.readTimeoutMs} ms`);
        const batch = await consumer.poll(1000, 200);
        got.push(...batch);
        if (batch.length === 0 && (await allCaughtUp(consumer, tps))) return got;
      }
    }

    /**
     * Everything visible in the topic, read up to an end marker written to each partition after it:
     * a duplicate committed before the markers cannot hide. (Transactional topics need this: their
     * commit markers keep a reader's last record below the high watermark, so caughtUp stays false.)
     */
    async function readThroughMarkers(log: Log, topic: string): Promise<LogRecord[]> {
      const producer = await log.producer();
      await producer.send(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, key: 'end', value: Buffer.from(END) })));
      const consumer = await log.consumer({ groupId: factory.name('reader'), topics: [topic] });
      const got: LogRecord[] = [];
      let ends = 0;
      const deadline = Date.now() + factory.readTimeoutMs;
      while (ends < PARTITIONS) {
        if (Date.now() > deadline) throw new Error(`saw ${ends} of ${PARTITIONS} end markers of ${topic} in ${factory.readTimeoutMs} ms`);
        for (const r of await consumer.poll(1000, 200)) {
          if (r.value.toString() === END) ends++;
          else got.push(r);
        }
      }
      await consumer.close();
      return got;
    }

    /**
     * A transactional session whose consumer is positioned as a stage positions it: each newly
     * assigned partition at its committed offset (rewind) before anything of it is read. A batch
     * polled while partitions were assigned is dropped, and everything assigned read again.
     */
    async function positionedSession(log: Log, opts: { transactionalId: string; groupId: string; topics: string[] }): Promise<TransactionalSession> {
      const tx = await log.transactionalSession(opts);
      const c = tx.consumer;
      let pending = false;
      const assigned = new Map<string, TopicPartition>();
      c.onAssignment((change) => {
        for (const tp of change.revoked) assigned.delete(`${tp.topic}/${tp.partition}`);
        for (const tp of change.assigned) assigned.set(`${tp.topic}/${tp.partition}`, tp);
        if (change.assigned.length > 0) pending = true;
      });
      const consumer: LogConsumer = {
        poll: async (max, timeoutMs) => {
          const position = async () => {
            pending = false;
            await c.rewind([...assigned.values()]);
          };
          if (pending) await position();
          const batch = await c.poll(max, timeoutMs);
          if (!pending) return batch;
          await position();
          return [];
        },
        commit: (offsets) => c.commit(offsets),
        onAssignment: (listener) => c.onAssignment(listener),
        caughtUp: (tp) => c.caughtUp(tp),
        lag: (tp) => c.lag(tp),
        rewind: (tps) => c.rewind(tps),
        committed: (tps, timeoutMs) => c.committed(tps, timeoutMs),
        seek: (positions) => c.seek(positions),
        pump: () => c.pump(),
        close: () => c.close(),
      };
      return { ...tx, consumer };
    }

    async function allCaughtUp(consumer: LogConsumer, tps: TopicPartition[]): Promise<boolean> {
      for (const tp of tps) if (!(await consumer.caughtUp(tp))) return false;
      return true;
    }

    it('returns what producers sent, in offset order per partition, one key on one partition', async () => {
      const log = await open();
      const topic = await topicOn(log, 'order');
      const producer = await log.producer();
      await producer.send(records(topic, 30));
      expect(producer.ready()).toBe(true);
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      const got = await readN(consumer, 30);
      expect(values(got)).toEqual(values(asRead(records(topic, 30))));
      const partitionOfKey = new Map<string, number>();
      const lastOffset = new Map<number, number>();
      for (const r of got) {
        expect(partitionOfKey.get(r.key!) ?? r.partition).toBe(r.partition);
        partitionOfKey.set(r.key!, r.partition);
        expect(r.offset).toBeGreaterThan(lastOffset.get(r.partition) ?? -1);
        lastOffset.set(r.partition, r.offset);
      }
    });

    it('tells a new assignment before returning any record of its partitions', async () => {
      const log = await open();
      const topic = await topicOn(log, 'assign');
      await (await log.producer()).send(records(topic, 9));
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      const assigned = new Set<string>();
      const changes: AssignmentChange[] = [];
      consumer.onAssignment((c) => {
        changes.push(c);
        for (const tp of c.assigned) assigned.add(`${tp.topic}/${tp.partition}`);
      });
      const got = await readN(consumer, 9);
      for (const r of got) expect(assigned.has(`${r.topic}/${r.partition}`)).toBe(true);
      expect(changes.flatMap((c) => c.revoked)).toEqual([]);
    });

    it('caughtUp is false while records are unread and true once the consumer has read to the end', async () => {
      const log = await open();
      const topic = await topicOn(log, 'caught-up');
      const producer = await log.producer();
      await producer.send([{ topic, key: 'k', value: Buffer.from('a'), partition: 1 }]);
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      const tp = { topic, partition: 1 };
      expect(await consumer.caughtUp(tp)).toBe(false);
      await readN(consumer, 1);
      expect(await consumer.caughtUp(tp)).toBe(true);
      await producer.send([{ topic, key: 'k', value: Buffer.from('b'), partition: 1 }]);
      expect(await consumer.caughtUp(tp)).toBe(false);
      expect(values(await readN(consumer, 1))).toEqual(['b']);
      expect(await consumer.caughtUp(tp)).toBe(true);
    });

    it('a new member of the group resumes after the committed offsets', async () => {
      const log = await open();
      const topic = await topicOn(log, 'commit');
      const groupId = factory.name('g');
      const producer = await log.producer();
      await producer.send(records(topic, 12));
      const first = await log.consumer({ groupId, topics: [topic] });
      const read = await readToEnd(first, topic);
      expect(read).toHaveLength(12);
      await first.commit(nextOffsets(read));
      await first.close();
      await producer.send(records(topic, 6, 100));
      const second = await log.consumer({ groupId, topics: [topic] });
      expect(values(await readToEnd(second, topic))).toEqual(values(asRead(records(topic, 6, 100))));
    });

    it("groupProgress says the whole group's lag and committed offsets, whoever holds the partitions", async () => {
      const log = await open();
      const topic = await topicOn(log, 'progress');
      const groupId = factory.name('g');
      const producer = await log.producer();
      await producer.send(records(topic, 12));
      const member = await log.consumer({ groupId, topics: [topic] });
      // Nothing committed yet: everything waits.
      expect(await member.groupProgress!()).toEqual({ lag: 12, committed: 0 });
      const read = await readToEnd(member, topic);
      const first = nextOffsets(read.slice(0, 5));
      await member.commit(first);
      const committed = first.reduce((n, o) => n + o.offset, 0);
      expect(await member.groupProgress!()).toEqual({ lag: 12 - committed, committed });
      await member.commit(nextOffsets(read));
      expect(await member.groupProgress!()).toEqual({ lag: 0, committed: 12 });
      await member.close();
    });

    it('rewind goes back to the committed offsets: what was read after them is read again', async () => {
      const log = await open();
      const topic = await topicOn(log, 'rewind');
      const producer = await log.producer();
      await producer.send(records(topic, 6));
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      const committed = await readToEnd(consumer, topic);
      await consumer.commit(nextOffsets(committed));
      await producer.send(records(topic, 9, 50));
      const uncommitted = await readToEnd(consumer, topic);
      expect(values(uncommitted)).toEqual(values(asRead(records(topic, 9, 50))));
      const at = await consumer.rewind(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
      // Where each partition reads from now: its committed offset, -1 where nothing was committed.
      const committedAt = new Map(nextOffsets(committed).map((o) => [o.partition, o.offset]));
      expect(at.map((o) => [o.partition, o.offset])).toEqual(Array.from({ length: PARTITIONS }, (_, p) => [p, committedAt.get(p) ?? -1]));
      expect(await allCaughtUp(consumer, Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })))).toBe(false);
      expect(values(await readToEnd(consumer, topic))).toEqual(values(uncommitted));
    });

    it('committed says the group offsets (-1: none); seek reads each named partition from its offset, whatever was committed', async () => {
      const log = await open();
      const topic = await topicOn(log, 'seek');
      const producer = await log.producer();
      await producer.send(Array.from({ length: 12 }, (_, i) => ({ topic, partition: i % PARTITIONS, key: `k${i}`, value: Buffer.from(`v${i}`) })));
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
      const first = await readToEnd(consumer, topic);
      expect(first).toHaveLength(12);
      // Commit partition 0 only, at its second record.
      await consumer.commit([{ topic, partition: 0, offset: 2 }]);
      expect((await consumer.committed(tps, 5000)).map((o) => [o.partition, o.offset])).toEqual([[0, 2], [1, -1], [2, -1]]);
      // Partition 1 from offset 3 (its last record), partition 2 from its start; partition 0 stays at its end.
      await consumer.seek([
        { topic, partition: 1, offset: 3 },
        { topic, partition: 2, offset: -1 },
      ]);
      expect(await consumer.lag({ topic, partition: 1 })).toBe(1);
      expect(await consumer.lag({ topic, partition: 2 })).toBe(4);
      expect(await consumer.caughtUp({ topic, partition: 0 })).toBe(true);
      const again = await readToEnd(consumer, topic);
      const byPartition = (rs: LogRecord[], p: number) => rs.filter((r) => r.partition === p).map((r) => r.offset);
      expect(byPartition(again, 0)).toEqual([]);
      expect(byPartition(again, 1)).toEqual([3]);
      expect(byPartition(again, 2)).toEqual([0, 1, 2, 3]);
      // Seeking moved no committed offset.
      expect((await consumer.committed(tps, 5000)).map((o) => o.offset)).toEqual([2, -1, -1]);
    });

    it('pump serves the group without losing records: what it fetched comes out of the next poll, once; after a seek, from the new place', async () => {
      const log = await open();
      const topic = await topicOn(log, 'pump');
      await (await log.producer()).send(Array.from({ length: 8 }, (_, i) => ({ topic, partition: 0, key: `k${i}`, value: Buffer.from(`v${i}`) })));
      const consumer = await log.consumer({ groupId: factory.name('g'), topics: [topic] });
      // A stage busy elsewhere: pumps only, for a while (on Kafka they join the group and fetch).
      const until = Date.now() + Math.min(3000, factory.readTimeoutMs);
      while (Date.now() < until) await consumer.pump();
      const first = await readToEnd(consumer, topic);
      expect(first.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await consumer.seek([{ topic, partition: 0, offset: 5 }]);
      for (let i = 0; i < 20; i++) await consumer.pump();
      expect((await readToEnd(consumer, topic)).map((r) => r.offset)).toEqual([5, 6, 7]);
    });

    it('a committed transaction makes its records and its input offsets visible together', async () => {
      const log = await open();
      const input = await topicOn(log, 'tx-in');
      const output = await topicOn(log, 'tx-out');
      const groupId = factory.name('g');
      await (await log.producer()).send(records(input, 10));
      const tx = await positionedSession(log, { transactionalId: factory.name('tx'), groupId, topics: [input] });
      const read = await readToEnd(tx.consumer, input);
      await tx.commit(
        read.map((r) => ({ topic: output, key: r.key ?? '', value: Buffer.from(`out-${r.value.toString()}`) })),
        nextOffsets(read),
      );
      await tx.close();
      const outputs = await readThroughMarkers(log, output);
      expect(values(outputs)).toEqual(values(read).map((v) => `out-${v}`).sort());
      // The same group starts after the transaction's offsets: nothing of the input is left.
      expect(await readToEnd(await log.consumer({ groupId, topics: [input] }), input)).toEqual([]);
    });

    it('an aborted transaction leaves neither records nor offsets; after a rewind the input is read again', async () => {
      const log = await open();
      const input = await topicOn(log, 'abort-in');
      const output = await topicOn(log, 'abort-out');
      const groupId = factory.name('g');
      await (await log.producer()).send(records(input, 8));
      const tx = await positionedSession(log, { transactionalId: factory.name('tx'), groupId, topics: [input] });
      const { consumer } = tx;
      const read = await readToEnd(consumer, input);
      const good = read.map((r) => ({ topic: output, key: r.key ?? '', value: Buffer.from(`out-${r.value.toString()}`) }));
      await expect(tx.commit([...good, ...factory.refusedRecords(output)], nextOffsets(read))).rejects.toMatchObject({ code: expect.stringMatching(/^EMO_ERR_/) });
      await consumer.rewind(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: input, partition })));
      const again = await readToEnd(consumer, input);
      expect(values(again)).toEqual(values(read));
      // The same session commits the retry: exactly one copy of each output becomes visible.
      await tx.commit(good, nextOffsets(again));
      await tx.close();
      const outputs = await readThroughMarkers(log, output);
      expect(values(outputs)).toEqual(values(read).map((v) => `out-${v}`).sort());
    });

    it('a reader at the end of a transactional topic is caught up: commit markers and aborted records are no input', async () => {
      const log = await open();
      const input = await topicOn(log, 'end-in');
      const output = await topicOn(log, 'end-out');
      await (await log.producer()).send(records(input, 6));
      const tx = await positionedSession(log, { transactionalId: factory.name('tx'), groupId: factory.name('g'), topics: [input] });
      const read = await readToEnd(tx.consumer, input);
      const out = read.map((r) => ({ topic: output, key: r.key ?? '', value: Buffer.from(`out-${r.value.toString()}`) }));
      await expect(tx.commit([...out, ...factory.refusedRecords(output)], nextOffsets(read))).rejects.toMatchObject({ code: expect.stringMatching(/^EMO_ERR_/) });
      await tx.commit(out, nextOffsets(read));
      await tx.close();
      // Before, a reader's last record stayed below the end (the markers after it): never caught up,
      // and a publisher with nothing to read looked starved once its input paused.
      const reader = await log.consumer({ groupId: factory.name('reader'), topics: [output] });
      const got = await readToEnd(reader, output);
      expect(values(got)).toEqual(values(read).map((v) => `out-${v}`).sort());
      for (let partition = 0; partition < PARTITIONS; partition++) expect(await reader.lag({ topic: output, partition })).toBe(0);
      await reader.close();
    });

    // Only where a group has more than one member; declared conditionally so no tier counts a skip.
    if (factory.rebalances) it('a member joining mid-stream takes partitions over: every input is committed exactly once', async () => {
      const log = await open();
      const input = await topicOn(log, 'rb-in');
      const output = await topicOn(log, 'rb-out');
      const groupId = factory.name('g');
      const producer = await log.producer();
      await producer.send(records(input, 300));
      let stop = false;
      const member = async (name: string, onCommit: () => void) => {
        const tx = await log.transactionalSession({ transactionalId: factory.name(`tx-${name}`), groupId, topics: [input] });
        const { consumer } = tx;
        const state = { assigned: new Set<number>(), idle: false, revoked: 0, positioned: true, loop: Promise.resolve() };
        consumer.onAssignment(({ assigned, revoked }) => {
          for (const tp of revoked) state.assigned.delete(tp.partition);
          for (const tp of assigned) state.assigned.add(tp.partition);
          state.revoked += revoked.length;
          // A session's consumer reads a new partition from where the stage seeks it.
          if (assigned.length > 0) state.positioned = false;
        });
        // The aggregator's loop in small: small batches, so a rebalance lands between (or inside) them.
        state.loop = (async () => {
          while (!stop) {
            if (!state.positioned) {
              state.positioned = true;
              await consumer.rewind([...state.assigned].map((partition) => ({ topic: input, partition })));
            }
            const batch = await consumer.poll(20, 100);
            // Assigned during this poll: nothing of it counts before the partitions are positioned.
            if (!state.positioned) continue;
            const mine = [...state.assigned].map((partition) => ({ topic: input, partition }));
            if (batch.length === 0) {
              state.idle = mine.length > 0 && (await allCaughtUp(consumer, mine));
              continue;
            }
            state.idle = false;
            try {
              await tx.commit(batch.map((r) => ({ topic: output, key: r.key ?? '', value: Buffer.from(`out-${r.value.toString()}`) })), nextOffsets(batch));
              onCommit();
            } catch {
              // Fenced by the rebalance (or aborted): nothing of it is visible; read again from the commits.
              await consumer.rewind(mine);
            }
          }
          await tx.close();
        })();
        return state;
      };
      let firstCommit!: () => void;
      const committed = new Promise<void>((resolve) => (firstCommit = resolve));
      const a = await member('a', () => firstCommit());
      await committed;
      const b = await member('b', () => {});
      await producer.send(records(input, 300, 1000));
      const deadline = Date.now() + factory.readTimeoutMs;
      // Settled: the members split the partitions between them and both have read their share to the end.
      const settled = () => a.idle && b.idle && a.assigned.size + b.assigned.size === PARTITIONS && b.assigned.size > 0 && new Set([...a.assigned, ...b.assigned]).size === PARTITIONS;
      while (!settled()) {
        if (Date.now() > deadline) throw new Error(`members did not settle: a=${[...a.assigned]} idle=${a.idle}, b=${[...b.assigned]} idle=${b.idle}`);
        await new Promise((r) => setTimeout(r, 20)); // re-check the members' state; the deadline above bounds it
      }
      stop = true;
      await Promise.all([a.loop, b.loop]);
      expect(a.revoked).toBeGreaterThan(0);
      const outputs = values(await readThroughMarkers(log, output));
      const expected = [...records(input, 300), ...records(input, 300, 1000)].map((r) => `out-${r.value.toString()}`).sort();
      expect(outputs.length).toBe(expected.length);
      expect(outputs).toEqual(expected);
    });
  });
}

/** Committed offsets are the next record to read. */
function nextOffsets(read: LogRecord[]): Array<{ topic: string; partition: number; offset: number }> {
  const next = new Map<string, { topic: string; partition: number; offset: number }>();
  for (const r of read) {
    const k = `${r.topic}/${r.partition}`;
    if ((next.get(k)?.offset ?? -1) < r.offset + 1) next.set(k, { topic: r.topic, partition: r.partition, offset: r.offset + 1 });
  }
  return [...next.values()];
}

function asRead(rs: ProducerRecord[]): LogRecord[] {
  return rs.map((r) => ({ topic: r.topic, partition: 0, offset: 0, key: r.key, value: r.value, timestamp: 0 }));
}
