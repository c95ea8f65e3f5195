"""schemas/ loading, env overrides and the schema-registry client (no Spark needed)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emostream_spark.config import (DEFAULT_SCHEMAS_DIR, compact_schema, load_aggregation, load_schemas,
                                    valence_centi)
from emostream_spark.confluent import RegistryError, register_schema
from emostream_spark.job import parse_args


def test_defaults_come_from_aggregation_json():
    cfg = load_schemas(DEFAULT_SCHEMAS_DIR, env={}).aggregation
    raw = json.loads((DEFAULT_SCHEMAS_DIR / "aggregation.json").read_text())
    assert (cfg.window_ms, cfg.grace_ms, cfg.unit_scale, cfg.top_n) == (
        raw["windowMs"], raw["graceMs"], raw["unitScale"], raw["topN"])


def test_env_overrides_use_the_typescript_names():
    env = {"WINDOW_MS": "1000", "GRACE_MS": "0", "UNIT_SCALE": "10", "TOP_N": "3", "TS_TOLERANCE_MS": "0"}
    cfg = load_aggregation(DEFAULT_SCHEMAS_DIR / "aggregation.json", env)
    assert (cfg.window_ms, cfg.grace_ms, cfg.unit_scale, cfg.top_n, cfg.ts_tolerance_ms) == (1000, 0, 10, 3, 0)
    with pytest.raises(ValueError):
        load_aggregation(DEFAULT_SCHEMAS_DIR / "aggregation.json", {"TOP_N": "2.5"})
    with pytest.raises(ValueError):
        load_aggregation(DEFAULT_SCHEMAS_DIR / "aggregation.json", {"UNIT_SCALE": "0"})


def test_schemas_dir_is_configurable(tmp_path):
    for name in ["reaction.avsc", "reaction-batch.avsc", "aggregate.avsc", "aggregation.json"]:
        (tmp_path / name).write_text((DEFAULT_SCHEMAS_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "emojis.json").write_text(json.dumps({"emojis": [
        {"emoji": "A", "name": "a", "valence": 0.35}, {"emoji": "B", "name": "b", "valence": -1}]}))
    s = load_schemas(tmp_path, env={})
    assert [(e.emoji, e.valence_centi) for e in s.catalog] == [("A", 35), ("B", -100)]


def test_valence_centi_rejects_three_decimals():
    assert valence_centi(0.29) == 29 and valence_centi(-0.57) == -57
    with pytest.raises(ValueError):
        valence_centi(0.123)


def test_compact_schema_is_json_stringify_of_the_file():
    text = (DEFAULT_SCHEMAS_DIR / "aggregate.avsc").read_text(encoding="utf-8")
    compact = compact_schema(text)
    assert json.loads(compact) == json.loads(text)
    assert compact.startswith('{"type":"record","name":"WindowAggregate"')
    assert "\\u" not in compact  # non-ASCII kept as is, like JSON.stringify


def test_job_argument_defaults(monkeypatch):
    for k in ["KAFKA_BOOTSTRAP", "REACTIONS_TOPIC", "AGGREGATES_TOPIC", "SCHEMA_REGISTRY_URL", "SPARK_MASTER",
              "TRIGGER_SECONDS", "SPARK_TRIGGER_MS", "MAX_OFFSETS_PER_TRIGGER", "STARTING_OFFSETS", "SPARK_SHUFFLE_PARTITIONS", "EMO_SCHEMAS_DIR",
              "EMOSTREAM_SCHEMAS_DIR", "SPARK_CHECKPOINT", "AGGREGATES_SCHEMA_ID"]:
        monkeypatch.delenv(k, raising=False)
    a = parse_args([])
    assert (a.bootstrap, a.reactions_topic, a.aggregates_topic, a.master, a.starting_offsets, a.trigger_ms,
            a.shuffle_partitions, a.registry_url) == (
        "127.0.0.1:19092", "emostream.reactions", "emostream.aggregates", "local[2]", "earliest", 2000, 1, None)
    # the trigger: command line (ms, then seconds), then SPARK_TRIGGER_MS, then TRIGGER_SECONDS
    monkeypatch.setenv("TRIGGER_SECONDS", "1")
    assert parse_args([]).trigger_ms == 1000
    monkeypatch.setenv("SPARK_TRIGGER_MS", "500")
    assert parse_args([]).trigger_ms == 500
    assert parse_args(["--trigger-seconds", "0.25"]).trigger_ms == 250
    assert parse_args(["--trigger-ms", "100", "--trigger-seconds", "3"]).trigger_ms == 100
    # a batch that closes a window must read every offset available at its start
    with pytest.raises(SystemExit):
        parse_args(["--max-offsets-per-trigger", "1000"])
    monkeypatch.setenv("AGGREGATES_TOPIC", "t2")
    assert parse_args([]).aggregates_topic == "t2"
    assert parse_args(["--aggregates-topic", "t3"]).aggregates_topic == "t3"


class _Registry(BaseHTTPRequestHandler):
    failures_left = 0
    status = 200
    seen = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, self.headers["Content-Type"], json.loads(body)))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.end_headers()
        payload = {"id": 17} if type(self).status == 200 else {"error_code": 42201, "message": "invalid"}
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def registry():
    _Registry.failures_left, _Registry.status, _Registry.seen = 0, 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/apis/ccompat/v7"
    server.shutdown()
    server.server_close()


def test_register_posts_the_schema_under_the_subject(registry):
    schema = compact_schema((DEFAULT_SCHEMAS_DIR / "aggregate.avsc").read_text(encoding="utf-8"))
    assert register_schema(registry + "/", "emostream.aggregates-value", schema) == 17
    path, ctype, body = _Registry.seen[0]
    assert path == "/apis/ccompat/v7/subjects/emostream.aggregates-value/versions"
    assert ctype == "application/vnd.schemaregistry.v1+json"
    assert body == {"schema": schema}


def test_register_retries_5xx_then_succeeds(registry):
    _Registry.failures_left = 2
    assert register_schema(registry, "s-value", '"string"', deadline_s=10) == 17
    assert len(_Registry.seen) == 3


def test_register_fails_fast_on_4xx(registry):
    _Registry.status = 422
    with pytest.raises(RegistryError) as err:
        register_schema(registry, "s-value", '"string"', deadline_s=10)
    assert not err.value.retryable and "422" in str(err.value)
    assert len(_Registry.seen) == 1
