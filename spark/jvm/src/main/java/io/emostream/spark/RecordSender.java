package io.emostream.spark;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The job's Kafka producer in the driver's JVM (job.KafkaOut): a micro-batch's records cross from
 * Python in one call, packed, rather than two py4j round trips each (1,081 windows of a backlog
 * batch took 1.5 s that way). Sent in the order given, then flushed; every send is checked, so a
 * failed write throws and fails the batch.
 */
public final class RecordSender implements AutoCloseable {
  private final KafkaProducer<byte[], byte[]> producer;
  private final String topic;

  public RecordSender(Properties props, String topic) {
    this.producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    this.topic = topic;
  }

  /**
   * packed: for each record, its key's length (4 bytes, big-endian), the key, its value's length,
   * the value. Returns how many were sent.
   */
  public int sendAll(byte[] packed) throws InterruptedException, ExecutionException {
    ByteBuffer b = ByteBuffer.wrap(packed);
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] key = new byte[b.getInt()];
      b.get(key);
      byte[] value = new byte[b.getInt()];
      b.get(value);
      sent.add(producer.send(new ProducerRecord<>(topic, key, value)));
    }
    producer.flush();
    for (Future<RecordMetadata> f : sent) f.get();
    return sent.size();
  }

  @Override
  public void close() {
    producer.close();
  }
}
