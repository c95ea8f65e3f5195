"""EmoStream Spark Structured Streaming aggregator.

Modules:
  config     - reads schemas/ (reaction.avsc, aggregate.avsc, emojis.json, aggregation.json)
  confluent  - Confluent wire framing (magic 0 + 4-byte id) and schema-registry registration
  transform  - pure DataFrame transformations, identical for batch (tests) and streaming (job)
  job        - the streaming job entry point (python -m emostream_spark.job --help)
"""
