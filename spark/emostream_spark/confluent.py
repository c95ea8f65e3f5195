"""Confluent wire format (magic byte 0 + 4-byte big-endian schema id + Avro body) and a minimal
Confluent-compatible schema-registry client (stdlib urllib only)."""
from __future__ import annotations

import json
import logging
import struct
import time
import urllib.error
import urllib.request
from typing import Tuple

MAGIC_BYTE = 0
HEADER_SIZE = 5
REGISTRY_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

log = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """Registration failed. `retryable` tells whether trying again may help."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def header(schema_id: int) -> bytes:
    if not 0 <= schema_id <= 0xFFFFFFFF:
        raise ValueError(f"schema id {schema_id} does not fit 4 bytes")
    return struct.pack(">bI", MAGIC_BYTE, schema_id)


def frame(schema_id: int, body: bytes) -> bytes:
    return header(schema_id) + bytes(body)


def unframe(buf: bytes) -> Tuple[int, bytes]:
    """(schema id, Avro body); ValueError when buf is not Confluent-framed."""
    buf = bytes(buf)
    if len(buf) < HEADER_SIZE or buf[0] != MAGIC_BYTE:
        raise ValueError("not in Confluent wire format (magic byte 0 + 4-byte schema id)")
    (schema_id,) = struct.unpack(">I", buf[1:HEADER_SIZE])
    return schema_id, buf[HEADER_SIZE:]


def register_schema(registry_url: str, subject: str, schema: str, *, timeout_s: float = 10.0,
                    deadline_s: float = 60.0) -> int:
    """POST {registry}/subjects/{subject}/versions {"schema": schema} -> {"id": N}.

    Registering an identical schema again returns the existing id. Connection errors and 5xx are
    retried with backoff until `deadline_s` (the registry may still be starting); 4xx fail at once.
    """
    url = f"{registry_url.rstrip('/')}/subjects/{urllib.request.quote(subject, safe='')}/versions"
    body = json.dumps({"schema": schema}).encode("utf-8")
    give_up_at = time.monotonic() + deadline_s
    delay = 0.25
    while True:
        try:
            return _post_once(url, body, timeout_s)
        except RegistryError as err:
            if not err.retryable or time.monotonic() + delay > give_up_at:
                raise
            log.warning("schema registry not ready (%s); retrying in %.2fs", err, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _post_once(url: str, body: bytes, timeout_s: float) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": REGISTRY_CONTENT_TYPE,
        "Accept": REGISTRY_CONTENT_TYPE + ", application/json",
    })
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            payload = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")[:500]
        raise RegistryError(f"POST {url} -> HTTP {err.code}: {detail}", retryable=err.code >= 500) from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise RegistryError(f"POST {url} failed: {err}", retryable=True) from err
    schema_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(schema_id, int):
        raise RegistryError(f"POST {url}: unexpected response {payload!r}", retryable=False)
    return schema_id
