"""spark-submit entry point: spark-submit [--jars ...] spark/main.py [job options].
On a cluster also ship the package: --py-files emostream_spark.zip (see README)."""
import sys

from emostream_spark.job import main

if __name__ == "__main__":
    sys.exit(main())
