package io.emostream.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager;

/**
 * The checkpoint's file writes for a local (file:) checkpoint, through java.nio: Spark's default
 * (FileContext on Hadoop's local file system) forks a process for each chmod and readlink when
 * Hadoop's native library is absent (it is not in pyspark), six per file written: the offset log,
 * the commit log and the state store's changelog cost 18 forks a batch, 30-60 ms per file on the
 * 2-core bench machine. Same protocol as Spark's: write a temporary file beside the target, then
 * rename it over (rename(2): atomic on one file system), refusing to replace an existing file
 * unless told to. Reads, listings and deletes stay Hadoop's (they fork nothing), so .crc files
 * of a checkpoint written before are still checked and removed with their files.
 *
 * <p>A checkpoint on any other file system (hdfs:, s3a:, or a path without a scheme where
 * fs.defaultFS is one) gets Spark's file-system manager, which this class extends. Set by the job's
 * session (session.build_session) as spark.sql.streaming.checkpointFileManagerClass; Spark calls
 * the (Path, Configuration) constructor.
 */
public final class LocalCheckpointFileManager extends FileSystemBasedCheckpointFileManager {
  private final boolean local;

  public LocalCheckpointFileManager(Path path, Configuration conf) {
    super(path, conf);
    try {
      this.local = "file".equals(path.getFileSystem(conf).getUri().getScheme());
    } catch (IOException e) {
      throw Exceptions.rethrow(e);
    }
  }

  private static java.nio.file.Path local(Path p) {
    return java.nio.file.Paths.get(p.toUri().getPath());
  }

  @Override
  public FSDataOutputStream createTempFile(Path path) {
    if (!local) return super.createTempFile(path);
    try {
      java.nio.file.Path f = local(path);
      Files.createDirectories(f.getParent());
      OutputStream out = Files.newOutputStream(f, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE);
      return new FSDataOutputStream(out, null);
    } catch (IOException e) {
      throw Exceptions.rethrow(e);
    }
  }

  @Override
  public void renameTempFile(Path srcPath, Path dstPath, boolean overwriteIfPossible) {
    if (!local) {
      super.renameTempFile(srcPath, dstPath, overwriteIfPossible);
      return;
    }
    java.nio.file.Path src = local(srcPath);
    java.nio.file.Path dst = local(dstPath);
    try {
      if (!overwriteIfPossible && Files.exists(dst)) {
        Files.deleteIfExists(src); // Spark's own manager leaves it behind
        throw new FileAlreadyExistsException("Failed to rename " + srcPath + " to " + dstPath + " as destination already exists");
      }
      Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw Exceptions.rethrow(e);
    }
  }
}
