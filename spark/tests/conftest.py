"""Shared fixtures: ONE local SparkSession for the whole run (small memory, 2 shuffle partitions)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SPARK_DIR = Path(__file__).resolve().parents[1]
if str(SPARK_DIR) not in sys.path:
    sys.path.insert(0, str(SPARK_DIR))

from emostream_spark.config import AggregationConfig, load_schemas  # noqa: E402

# Keep the driver's python and the workers' python the same interpreter (the venv's).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from emostream_spark.session import build_session

    s = build_session("emostream-spark-tests", "local[2]", shuffle_partitions=2, driver_memory="512m",
                      conf={"spark.default.parallelism": "2",
                            "spark.sql.streaming.stateStore.maintenanceInterval": "600s"})
    yield s
    s.stop()


@pytest.fixture(scope="session")
def schemas():
    # The real schemas/ of the repo: the single source of truth the job reads at run time.
    return load_schemas(SPARK_DIR.parent / "schemas", env={})


@pytest.fixture(scope="session")
def catalog(schemas):
    return schemas.catalog


@pytest.fixture(scope="session")
def rules():
    return AggregationConfig(window_ms=2000, grace_ms=500, unit_scale=1000, top_n=8)
