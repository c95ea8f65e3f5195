"""Runtime configuration read from the shared schemas/ directory (single source of truth)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMAS_DIR = REPO_ROOT / "schemas"

# Env names shared with the TypeScript aggregator.
ENV_OVERRIDES = {
    "windowMs": "WINDOW_MS",
    "graceMs": "GRACE_MS",
    "unitScale": "UNIT_SCALE",
    "topN": "TOP_N",
    "tsToleranceMs": "TS_TOLERANCE_MS",
}


@dataclass(frozen=True)
class CatalogEmoji:
    emoji: str
    name: str
    valence: float
    valence_centi: int  # round(valence * 100), exact integer


@dataclass(frozen=True)
class AggregationConfig:
    window_ms: int
    grace_ms: int
    unit_scale: int
    top_n: int
    # How far behind receivedAt a client's ts may lie and still place the reaction (transform.event_time).
    ts_tolerance_ms: int = 250


@dataclass(frozen=True)
class Schemas:
    directory: Path
    reaction_avsc: str    # JSON text of reaction.avsc (as in the file)
    reaction_batch_avsc: str  # JSON text of reaction-batch.avsc: one record per request and match (packed)
    aggregate_avsc: str   # JSON text of aggregate.avsc (as in the file)
    catalog: Tuple[CatalogEmoji, ...]
    aggregation: AggregationConfig

    @property
    def emojis(self) -> Sequence[str]:
        return [e.emoji for e in self.catalog]


def valence_centi(valence: float) -> int:
    centi = round(valence * 100)
    if abs(valence * 100 - centi) > 1e-6:
        raise ValueError(f"valence {valence!r} has more than two decimals")
    return int(centi)


def load_catalog(path: Path) -> Tuple[CatalogEmoji, ...]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    seen = set()
    for item in data["emojis"]:
        e = item["emoji"]
        if e in seen:
            raise ValueError(f"duplicate emoji {e!r} in {path}")
        seen.add(e)
        v = float(item["valence"])
        out.append(CatalogEmoji(emoji=e, name=item.get("name", ""), valence=v, valence_centi=valence_centi(v)))
    if not out:
        raise ValueError(f"empty catalog in {path}")
    return tuple(out)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ValueError(f"{name} must be an integer, got {value!r}")
    iv = int(value)
    if iv != float(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return iv


def load_aggregation(path: Path, env: Optional[Mapping[str, str]] = None) -> AggregationConfig:
    """aggregation.json, then env overrides WINDOW_MS / GRACE_MS / UNIT_SCALE / TOP_N."""
    env = os.environ if env is None else env
    data = json.loads(path.read_text(encoding="utf-8"))
    vals = {}
    for key, env_name in ENV_OVERRIDES.items():
        raw = env.get(env_name)
        if raw is not None and raw.strip() != "":
            vals[key] = _positive_int(env_name, raw)
        else:
            vals[key] = _positive_int(key, data[key])
    cfg = AggregationConfig(
        window_ms=vals["windowMs"], grace_ms=vals["graceMs"],
        unit_scale=vals["unitScale"], top_n=vals["topN"], ts_tolerance_ms=vals["tsToleranceMs"],
    )
    if cfg.window_ms <= 0 or cfg.unit_scale <= 0 or cfg.top_n <= 0 or cfg.grace_ms < 0 or cfg.ts_tolerance_ms < 0:
        raise ValueError(f"invalid aggregation config {cfg}")
    if 0 < cfg.grace_ms <= cfg.ts_tolerance_ms or (cfg.grace_ms == 0 and cfg.ts_tolerance_ms > 0):
        raise ValueError(f"tsToleranceMs ({cfg.ts_tolerance_ms}) must be smaller than graceMs ({cfg.grace_ms})")
    return cfg


def load_schemas(directory: Optional[os.PathLike] = None, env: Optional[Mapping[str, str]] = None) -> Schemas:
    env = os.environ if env is None else env
    d = Path(directory or env.get("EMOSTREAM_SCHEMAS_DIR") or DEFAULT_SCHEMAS_DIR).resolve()
    reaction = (d / "reaction.avsc").read_text(encoding="utf-8")
    reaction_batch = (d / "reaction-batch.avsc").read_text(encoding="utf-8")
    json.loads(reaction_batch)
    aggregate = (d / "aggregate.avsc").read_text(encoding="utf-8")
    json.loads(reaction)
    json.loads(aggregate)
    return Schemas(
        directory=d,
        reaction_avsc=reaction,
        reaction_batch_avsc=reaction_batch,
        aggregate_avsc=aggregate,
        catalog=load_catalog(d / "emojis.json"),
        aggregation=load_aggregation(d / "aggregation.json", env),
    )


def compact_schema(avsc_text: str) -> str:
    """The schema string sent to the registry: JSON.stringify(JSON.parse(text)) equivalent,
    so the TypeScript side registering the same file gets the same canonical text (and id)."""
    return json.dumps(json.loads(avsc_text), separators=(",", ":"), ensure_ascii=False)
