import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaLog } from '../../src/adapters/kafka/kafka-log.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { kafkaConfig, unique } from '../../helpers/kafka.js';

/*
 * A producer whose records are never delivered replaces its librdkafka instance by itself. What
 * made the chaos tier need it (librdkafka 5430: a partition whose leader was "none" for 100 ms
 * after a frozen broker was fenced stays without one in that producer for good) cannot be made on
 * demand; a topic that does not exist yet (the test broker does not create topics) gives the same
 * shape: every send waits, none is delivered.
 */
const logs: KafkaLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});

describe('Kafka producer whose deliveries stopped', () => {
  it('answers 503s meanwhile, replaces its instance after the bound, and delivers again once the cluster can take the records', async () => {
    const config = kafkaConfig({ kafka: { ackTimeoutMs: 1_000, messageTimeoutMs: 5_000 } });
    const recoveries: string[] = [];
    const log = new KafkaLog(config.kafka, silentLogger, () => {}, (kind) => recoveries.push(kind));
    logs.push(log);
    const producer = await log.producer();
    const topic = unique('not-yet');
    const send = () => producer.send([{ topic, key: 'k', value: Buffer.from('v') }]);

    await expect(send()).rejects.toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE' });
    // Sends keep coming, as from an api under load; each is refused with a retryable error.
    await vi.waitFor(
      async () => {
        await send().catch(() => {});
        expect(recoveries).toContain('producer-recreated');
      },
      { timeout: 25_000, interval: 500 },
    );
    expect(producer.ready()).toBe(true);

    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    await vi.waitFor(() => send(), { timeout: 20_000, interval: 500 });
  });
});
