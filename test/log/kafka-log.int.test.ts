import { KafkaLog } from '../../src/adapters/kafka/kafka-log.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { kafkaConfig, unique } from '../../helpers/kafka.js';
import { logContract } from './log-suite.js';

const { kafka } = kafkaConfig();

logContract('kafka', {
  create: async () => new KafkaLog(kafka, silentLogger),
  name: unique,
  // Over the broker's message.max.bytes (1 MB): librdkafka refuses it at produce(), inside the
  // transaction, after the good records were produced; the transaction is given up.
  refusedRecords: (topic) => [{ topic, key: 'big', value: Buffer.alloc(2 * 1024 * 1024, 1) }],
  rebalances: true,
  readTimeoutMs: 60_000,
});
