package io.emostream.spark;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;

/**
 * Kafka values of the reactions topic -> (matchId, windowStartMs, idx, n): each partition's
 * reactions decoded and counted per match, window and catalog emoji, in one pass on the JVM.
 *
 * <p>The same rows as the SQL path of transform.py (decode_reactions, filter_catalog, window_rows,
 * then partial_counts), which stays the reference and the batch path: from_avro builds a record and
 * a row per reaction and mapInArrow ships every row to a Python worker, while this allocates one
 * string per Kafka record and nothing per reaction. The same rules:
 *
 * <ul>
 *   <li>a value that is not Confluent-framed (shorter than 5 bytes, magic byte not 0) is dropped;
 *   <li>a value whose schema id is one of the packed ids is a ReactionBatch (reaction-batch.avsc),
 *       any other a Reaction (reaction.avsc); one that does not decode is dropped whole (from_avro's
 *       PERMISSIVE mode gives null for it);
 *   <li>only catalog emojis count (compared as UTF-8 bytes);
 *   <li>event time is ts while it lies at most tolMs behind receivedAt (and not after it), else
 *       receivedAt; its window starts at floor(eventTime / windowMs) * windowMs.
 * </ul>
 *
 * <p>The field layouts are fixed here: transform.check_reaction_schemas fails the job when the
 * .avsc files no longer match them.
 */
public final class PartialCounts implements MapPartitionsFunction<byte[], Row> {
  private static final long serialVersionUID = 1L;

  /** transform.PARTIAL_DDL. */
  public static final StructType OUT = StructType.fromDDL("matchId string, windowStartMs bigint, idx int, n bigint");

  private final byte[][] catalog;
  private final long windowMs;
  private final long tolMs;
  private final int[] packedIds;

  public PartialCounts(String catalogLines, long windowMs, long tolMs, String packedIdsCsv) {
    String[] emojis = catalogLines.split("\n");
    this.catalog = new byte[emojis.length][];
    for (int i = 0; i < emojis.length; i++) catalog[i] = emojis[i].getBytes(UTF_8);
    this.windowMs = windowMs;
    this.tolMs = tolMs;
    this.packedIds = packedIdsCsv.isEmpty() ? new int[0] : Arrays.stream(packedIdsCsv.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  /** From PySpark: DataFrame(jvm.io.emostream.spark.PartialCounts.apply(df._jdf, ...), spark). */
  public static Dataset<Row> apply(Dataset<Row> kafka, String catalogLines, long windowMs, long tolMs, String packedIdsCsv) {
    return kafka.select("value").as(Encoders.BINARY()).mapPartitions(new PartialCounts(catalogLines, windowMs, tolMs, packedIdsCsv), Encoders.row(OUT));
  }

  @Override
  public Iterator<Row> call(Iterator<byte[]> values) {
    Map<String, Map<Long, long[]>> counts = new HashMap<>();
    Reader r = new Reader();
    Pending p = new Pending();
    while (values.hasNext()) {
      byte[] v = values.next();
      if (v == null || v.length < 5 || v[0] != 0) continue;
      int id = ((v[1] & 0xff) << 24) | ((v[2] & 0xff) << 16) | ((v[3] & 0xff) << 8) | (v[4] & 0xff);
      r.reset(v, 5);
      p.clear();
      String matchId;
      try {
        matchId = isPacked(id) ? readBatch(r, p) : readReaction(r, p);
      } catch (MalformedRecord | IndexOutOfBoundsException e) {
        continue; // the whole record, as from_avro's PERMISSIVE null drops it
      }
      Map<Long, long[]> windows = counts.computeIfAbsent(matchId, k -> new HashMap<>());
      for (int i = 0; i < p.size; i++) windows.computeIfAbsent(p.windowStart[i], k -> new long[catalog.length])[p.idx[i]]++;
    }
    List<Row> out = new ArrayList<>();
    counts.forEach((matchId, windows) -> windows.forEach((start, n) -> {
      for (int i = 0; i < n.length; i++) if (n[i] > 0) out.add(RowFactory.create(matchId, start, i, n[i]));
    }));
    return out.iterator();
  }

  private boolean isPacked(int id) {
    for (int p : packedIds) if (p == id) return true;
    return false;
  }

  /** reaction.avsc: matchId, userId, emoji, ts, receivedAt. */
  private String readReaction(Reader r, Pending p) {
    String matchId = r.string();
    r.skipBytes();
    int idx = r.catalogIndex(catalog);
    long ts = r.zigzag();
    long receivedAt = r.zigzag();
    if (idx >= 0) p.add(windowStart(ts, receivedAt), idx);
    return matchId;
  }

  /** reaction-batch.avsc: matchId, receivedAt, reactions: array of (userId, emoji, ts). */
  private String readBatch(Reader r, Pending p) {
    String matchId = r.string();
    long receivedAt = r.zigzag();
    for (long n = r.zigzag(); n != 0; n = r.zigzag()) {
      if (n < 0) {
        n = -n;
        r.zigzag(); // a negative count is followed by the block's size in bytes
      }
      for (; n > 0; n--) {
        r.skipBytes();
        int idx = r.catalogIndex(catalog);
        long ts = r.zigzag();
        if (idx >= 0) p.add(windowStart(ts, receivedAt), idx);
      }
    }
    return matchId;
  }

  private long windowStart(long ts, long receivedAt) {
    long t = ts <= receivedAt && ts >= receivedAt - tolMs ? ts : receivedAt;
    return t - Math.floorMod(t, windowMs);
  }

  /** A record's counted reactions, kept until the whole record has decoded. */
  private static final class Pending {
    long[] windowStart = new long[64];
    int[] idx = new int[64];
    int size;

    void clear() {
      size = 0;
    }

    void add(long start, int i) {
      if (size == idx.length) {
        windowStart = Arrays.copyOf(windowStart, size * 2);
        idx = Arrays.copyOf(idx, size * 2);
      }
      windowStart[size] = start;
      idx[size++] = i;
    }
  }

  private static final class MalformedRecord extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MalformedRecord(String why) {
      super(why, null, false, false);
    }
  }

  /** Avro binary: zigzag varints, strings as a length then UTF-8 bytes. */
  private static final class Reader {
    private byte[] b;
    private int at;

    void reset(byte[] bytes, int from) {
      b = bytes;
      at = from;
    }

    long zigzag() {
      long raw = 0;
      for (int shift = 0; ; shift += 7) {
        if (shift > 63) throw new MalformedRecord("varint too long");
        byte x = b[at++];
        raw |= (long) (x & 0x7f) << shift;
        if ((x & 0x80) == 0) break;
      }
      return (raw >>> 1) ^ -(raw & 1);
    }

    private int length() {
      long n = zigzag();
      if (n < 0 || n > b.length - at) throw new MalformedRecord("bad length");
      return (int) n;
    }

    String string() {
      int n = length();
      String s = new String(b, at, n, UTF_8);
      at += n;
      return s;
    }

    void skipBytes() {
      int n = length(); // not `at += length()`: Java reads `at` before length() moves it
      at += n;
    }

    /** The catalog index of the next string, -1 when it is not in the catalog. */
    int catalogIndex(byte[][] catalog) {
      int n = length();
      int found = -1;
      for (int i = 0; i < catalog.length && found < 0; i++) {
        byte[] e = catalog[i];
        if (e.length == n && Arrays.equals(b, at, at + n, e, 0, n)) found = i;
      }
      at += n;
      return found;
    }
  }
}
