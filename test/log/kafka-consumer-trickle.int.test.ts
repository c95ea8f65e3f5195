import { afterAll, describe, expect, it } from 'vitest';
import { KafkaLog } from '../../src/adapters/kafka/kafka-log.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { createTopics, kafkaConfig, unique } from '../../helpers/kafka.js';

/*
 * Regression: node-rdkafka's consume(n) kept collecting until n records arrived as long as each
 * came within the read timeout, so at a live event's quiet start (a few reactions per second) the
 * aggregator saw nothing for tens of seconds and every window closed late (the chaos tier's
 * baseline). A poll must hand over what is there once it has caught up.
 */
describe('KafkaLogConsumer under a slow, steady trickle', () => {
  const config = kafkaConfig();
  const log = new KafkaLog(config.kafka, silentLogger);
  afterAll(() => log.close());

  it('returns each batch once caught up instead of waiting for maxRecords', async () => {
    await createTopics(config);
    const topic = config.log.reactionsTopic;
    const producer = await log.producer();
    const consumer = await log.consumer({ groupId: unique('trickle'), topics: [topic] });
    // Joined before the trickle starts, so every record below is read live.
    let assigned = false;
    consumer.onAssignment(({ assigned: tps }) => {
      if (tps.length > 0) assigned = true;
    });
    while (!assigned) await consumer.poll(100, 200);

    // 60 records, one per 50 ms: 3 s of a quiet stream, then silence.
    const total = 60;
    let produced = 0;
    const trickle = (async () => {
      for (; produced < total; produced++) {
        await producer.send([{ topic, key: 'm', value: Buffer.from(String(produced)) }]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const batches: Array<{ size: number; producedWhenReturned: number }> = [];
    let read = 0;
    const deadline = Date.now() + 30_000;
    try {
      while (read < total && Date.now() < deadline) {
        const batch = await consumer.poll(5000, 250);
        if (batch.length === 0) continue;
        read += batch.length;
        batches.push({ size: batch.length, producedWhenReturned: produced });
      }
    } finally {
      await trickle;
    }
    expect(read).toBe(total);
    // Many small batches, handed over while the producer was still going: none waited to fill
    // (before the fix: one batch of 60, returned only once the stream fell silent).
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(batches[0]!.producedWhenReturned).toBeLessThan(total / 2);
    await consumer.close();
  });
});
