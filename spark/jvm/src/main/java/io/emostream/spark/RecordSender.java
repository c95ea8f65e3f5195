package io.emostream.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The job's Kafka producer, in the driver's JVM: a micro-batch's records are sent in the order
 * given, then flushed; every send is checked, so a failed write throws and fails the batch (Spark
 * runs it again after a restart). The caller sets acks=all and idempotence (job.kafka_out), so
 * retries never reorder the partition.
 */
public final class RecordSender implements RecordOut {
  private final KafkaProducer<byte[], byte[]> producer;
  private final String topic;

  public RecordSender(Properties props, String topic) {
    this.producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    this.topic = topic;
  }

  @Override
  public void write(long batchId, List<KeyValue> records) throws Exception {
    List<Future<RecordMetadata>> sent = new ArrayList<>(records.size());
    for (KeyValue r : records) sent.add(producer.send(new ProducerRecord<>(topic, r.key(), r.value())));
    producer.flush();
    for (Future<RecordMetadata> f : sent) f.get();
  }

  @Override
  public void close() {
    producer.close();
  }
}
