"""spark/jvm LocalCheckpointFileManager: the job's checkpoint writes on a local disk keep Spark's
protocol (a file appears whole or not at all, an existing one is not replaced unless asked) and
go through java.nio, so no .crc files and no forked chmod/readlink."""
from __future__ import annotations

import pytest
from py4j.protocol import Py4JJavaError

from emostream_spark.session import CHECKPOINT_FILE_MANAGER_CONF, LOCAL_CHECKPOINT_FILE_MANAGER


def manager(spark, root):
    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    path = jvm.org.apache.hadoop.fs.Path(f"file://{root}")
    fm = jvm.org.apache.spark.sql.execution.streaming.checkpointing.CheckpointFileManager.create(path, conf)
    return fm, jvm.org.apache.hadoop.fs.Path


def write(fm, Path, target, data: bytes, overwrite=False):
    out = fm.createAtomic(Path(str(target)), overwrite)
    out.write(bytearray(data))
    out.close()


def test_the_session_uses_it(spark, tmp_path):
    assert spark.conf.get(CHECKPOINT_FILE_MANAGER_CONF) == LOCAL_CHECKPOINT_FILE_MANAGER
    fm, _ = manager(spark, tmp_path)
    assert fm.getClass().getName() == LOCAL_CHECKPOINT_FILE_MANAGER


def test_a_file_appears_whole_and_alone(spark, tmp_path):
    fm, Path = manager(spark, tmp_path)
    target = tmp_path / "offsets" / "7"
    out = fm.createAtomic(Path(str(target)), False)
    out.write(bytearray(b"v1\n{}"))
    assert not target.exists(), "visible before close"
    out.close()
    assert target.read_bytes() == b"v1\n{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["7"], "a temporary or .crc file left beside it"
    assert fm.exists(Path(str(target)))
    assert [s.getPath().getName() for s in fm.list(Path(str(target.parent)))] == ["7"]


def test_an_existing_file_is_kept_unless_overwrite(spark, tmp_path):
    fm, Path = manager(spark, tmp_path)
    target = tmp_path / "commits" / "3"
    write(fm, Path, target, b"first")
    with pytest.raises(Py4JJavaError) as err:
        write(fm, Path, target, b"second")
    assert "FileAlreadyExistsException" in str(err.value.java_exception.getClass().getName())
    assert target.read_bytes() == b"first"
    write(fm, Path, target, b"third", overwrite=True)
    assert target.read_bytes() == b"third"
    assert sorted(p.name for p in target.parent.iterdir()) == ["3"]


def test_cancel_leaves_nothing(spark, tmp_path):
    fm, Path = manager(spark, tmp_path)
    target = tmp_path / "state" / "1.changelog"
    out = fm.createAtomic(Path(str(target)), False)
    out.write(bytearray(b"partial"))
    out.cancel()
    assert list(target.parent.iterdir()) == []


def test_reads_a_checkpoint_written_by_sparks_own_manager(spark, tmp_path):
    """A checkpoint from before (FileContext, with .crc files) is read, checked and deleted with
    its .crc."""
    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    Path = jvm.org.apache.hadoop.fs.Path
    old = jvm.org.apache.spark.sql.execution.streaming.checkpointing.FileContextBasedCheckpointFileManager(
        Path(f"file://{tmp_path}"), conf)
    target = tmp_path / "offsets" / "0"
    target.parent.mkdir()
    write(old, Path, target, b"old")
    assert (tmp_path / "offsets" / ".0.crc").exists()
    fm, _ = manager(spark, tmp_path)
    stream = fm.open(Path(str(target)))
    assert bytes(stream.readAllBytes()) == b"old"
    stream.close()
    fm.delete(Path(str(target)))
    assert list((tmp_path / "offsets").iterdir()) == []
