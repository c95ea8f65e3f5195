import { afterAll, describe, expect, it } from 'vitest';
import { KafkaLog } from '../../src/adapters/kafka/kafka-log.js';
import type { KafkaLogConsumer } from '../../src/adapters/kafka/kafka-consumer.js';
import { call } from '../../src/adapters/kafka/rdkafka.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { kafkaConfig, unique } from '../../helpers/kafka.js';

/*
 * The chaos soak and the CI (7 Dec) met a publisher whose consumer's client never reached the
 * broker again after a frozen broker, while every other client did: asked of that client alone,
 * the group's progress read as an outage for minutes and the consumer was never replaced. Here the
 * consumer's own client is made unable to reach the log (disconnected under the adapter), and the
 * group's progress must still come, from a fresh client.
 */
describe("KafkaLogConsumer.groupProgress when the consumer's own client cannot reach the log", () => {
  const config = kafkaConfig();
  const log = new KafkaLog(config.kafka, silentLogger);
  afterAll(() => log.close());

  it('answers through a fresh client of the same group (at most every few seconds), with the group’s committed offsets', async () => {
    const topic = unique('probe');
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    const producer = await log.producer();
    await producer.send([0, 1, 2, 3, 4].map((i) => ({ topic, key: 'm', value: Buffer.from(String(i)) })));
    const consumer = (await log.consumer({ groupId: unique('probe'), topics: [topic] })) as KafkaLogConsumer;
    let read = 0;
    for (const deadline = Date.now() + 30_000; read < 2 && Date.now() < deadline; ) read += (await consumer.poll(2, 500)).length;
    expect(read).toBe(2);
    await consumer.commit([{ topic, partition: 0, offset: 2 }]);
    expect(await consumer.groupProgress()).toEqual({ lag: 3, committed: 2 });

    await call((cb) => consumer.raw.disconnect((err) => cb(err)));
    // The own client's failure alone: the metadata call of a disconnected client fails at once.
    await expect(call<unknown>((cb) => consumer.raw.getMetadata({ timeout: 1000 }, (err, m) => cb(err, m)))).rejects.toBeTruthy();
    expect(await consumer.groupProgress()).toEqual({ lag: 3, committed: 2, ownClientAway: true });
    // Not a fresh client on every check: within a few seconds, the own client's failure stands.
    await expect(consumer.groupProgress()).rejects.toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE' });
    await consumer.close();
  });
});
