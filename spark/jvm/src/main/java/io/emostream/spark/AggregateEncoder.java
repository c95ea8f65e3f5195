package io.emostream.spark;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A closed window's counts -> its Kafka record, in the streaming job's sink (AggregateSink): key
 * "matchId|windowStartMs", value 0x00 + schema id (4 bytes, big endian) + Avro binary of
 * aggregate.avsc. The rules and bytes are transform.encode_from_counts' (Catalyst, the batch
 * path) and the TypeScript aggregator's: counts in catalog order (count > 0); units for the top N
 * by count desc then catalog index, ceil(count / unitScale), in rank order; total; sentiment =
 * double(sum(count * valenceCenti)) / double(100 * total); each Avro map written as one block.
 * transform.check_aggregate_schema guards the field list; test_encoding checks the bytes against
 * the Python reference.
 */
public final class AggregateEncoder implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  private final byte[][] emojis; // Avro strings, ready to write
  private final long[] valenceCenti;
  private final long windowMs;
  private final long unitScale;
  private final int topN;
  private final byte[] header;

  public AggregateEncoder(List<String> emojis, List<? extends Number> valenceCenti, long windowMs, long unitScale,
      int topN, int schemaId) {
    if (emojis.size() != valenceCenti.size()) throw new IllegalArgumentException("one valence per emoji");
    this.emojis = new byte[emojis.size()][];
    this.valenceCenti = new long[emojis.size()];
    for (int i = 0; i < emojis.size(); i++) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      writeString(b, emojis.get(i));
      this.emojis[i] = b.toByteArray();
      this.valenceCenti[i] = valenceCenti.get(i).longValue();
    }
    this.windowMs = windowMs;
    this.unitScale = unitScale;
    this.topN = topN;
    this.header = new byte[] {0, (byte) (schemaId >>> 24), (byte) (schemaId >>> 16), (byte) (schemaId >>> 8), (byte) schemaId};
  }

  public int emojis() {
    return emojis.length;
  }

  /** The record of window [start, start + windowMs) of matchId; counts in catalog order, total > 0. */
  public RecordOut.KeyValue encode(String matchId, long start, long[] counts) {
    if (counts.length != emojis.length) throw new IllegalArgumentException("one count per catalog emoji");
    List<Integer> present = new ArrayList<>();
    long total = 0, num = 0;
    for (int i = 0; i < counts.length; i++) {
      if (counts[i] > 0) present.add(i);
      total += counts[i];
      num += counts[i] * valenceCenti[i];
    }
    List<Integer> ranked = new ArrayList<>(present);
    ranked.sort(Comparator.<Integer>comparingLong(i -> -counts[i]).thenComparingInt(i -> i));
    if (ranked.size() > topN) ranked = ranked.subList(0, topN);

    ByteArrayOutputStream v = new ByteArrayOutputStream(64 + 24 * present.size());
    v.write(header, 0, header.length);
    writeString(v, matchId);
    writeLong(v, start);
    writeLong(v, start + windowMs);
    writeMapBlock(v, present, i -> counts[i]);
    writeMapBlock(v, ranked, i -> (counts[i] + unitScale - 1) / unitScale);
    writeLong(v, total);
    long bits = Double.doubleToLongBits((double) num / (double) (100 * total));
    for (int k = 0; k < 8; k++) v.write((int) (bits >>> (8 * k))); // little endian
    return new RecordOut.KeyValue((matchId + "|" + start).getBytes(StandardCharsets.UTF_8), v.toByteArray());
  }

  /** For callers that hold the counts as a list (PySpark). */
  public RecordOut.KeyValue encode(String matchId, long start, List<? extends Number> counts) {
    long[] c = new long[counts.size()];
    for (int i = 0; i < c.length; i++) c[i] = counts.get(i).longValue();
    return encode(matchId, start, c);
  }

  private void writeMapBlock(ByteArrayOutputStream out, List<Integer> entries, java.util.function.IntToLongFunction value) {
    if (!entries.isEmpty()) {
      writeLong(out, entries.size());
      for (int i : entries) {
        out.write(emojis[i], 0, emojis[i].length);
        writeLong(out, value.applyAsLong(i));
      }
    }
    writeLong(out, 0);
  }

  private static void writeString(ByteArrayOutputStream out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    writeLong(out, b.length);
    out.write(b, 0, b.length);
  }

  /** Avro long: zigzag, then a base-128 varint, low group first. */
  private static void writeLong(ByteArrayOutputStream out, long n) {
    long z = (n << 1) ^ (n >> 63);
    while ((z & ~0x7FL) != 0) {
      out.write((int) ((z & 0x7F) | 0x80));
      z >>>= 7;
    }
    out.write((int) z);
  }
}
