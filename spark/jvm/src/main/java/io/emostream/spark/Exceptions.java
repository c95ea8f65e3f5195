package io.emostream.spark;

/** Checked exceptions through methods Scala declared without them. */
final class Exceptions {
  private Exceptions() {}

  /**
   * Throws e as it is, checked or not: Spark catches some by type (an IOException such as
   * FileAlreadyExistsException, a batch's failure), which a wrapper would hide. Written `throw
   * rethrow(e)` so the compiler sees the branch end.
   */
  @SuppressWarnings("unchecked")
  static <E extends Throwable> RuntimeException rethrow(Throwable e) throws E {
    throw (E) e;
  }
}
