"""Avro binary encoding (spec 1.x) of the few types EmoStream's records use, in pure Python.

Used for literal bytes in the Spark expressions (map keys are constants) and by tests as an
independent reference. Maps are written as ONE block in the given (insertion) order, then the
0 terminator - exactly what avsc (the TypeScript side) writes for a JS object, and what Spark's
to_avro does NOT guarantee for a MapType (it goes through a java.util.HashMap).
"""
from __future__ import annotations

import struct
from typing import Dict, List, Mapping, Tuple


def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def encode_long(n: int) -> bytes:
    if not -(1 << 63) <= n < (1 << 63):
        raise OverflowError(n)
    u = zigzag(n) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return encode_long(len(raw)) + raw


def encode_double(x: float) -> bytes:
    return struct.pack("<d", x)


def encode_map_long(m: Mapping[str, int]) -> bytes:
    if not m:
        return encode_long(0)
    out = bytearray(encode_long(len(m)))
    for k, v in m.items():
        out += encode_string(k) + encode_long(v)
    out += encode_long(0)
    return bytes(out)


def encode_aggregate(rec: Mapping) -> bytes:
    """aggregate.avsc record; windowStart/windowEnd as epoch ms ints."""
    return (encode_string(rec["matchId"]) + encode_long(rec["windowStart"]) + encode_long(rec["windowEnd"])
            + encode_map_long(rec["counts"]) + encode_map_long(rec["units"])
            + encode_long(rec["total"]) + encode_double(rec["sentiment"]))


def encode_reaction(rec: Mapping) -> bytes:
    """reaction.avsc record; ts/receivedAt as epoch ms ints."""
    return (encode_string(rec["matchId"]) + encode_string(rec["userId"]) + encode_string(rec["emoji"])
            + encode_long(rec["ts"]) + encode_long(rec["receivedAt"]))


def encode_reaction_batch(rec: Mapping) -> bytes:
    """reaction-batch.avsc record: matchId, receivedAt, then the reactions as one Avro array block
    (count, items, 0); ts/receivedAt as epoch ms ints."""
    items = rec["reactions"]
    body = b"".join(encode_string(it["userId"]) + encode_string(it["emoji"]) + encode_long(it["ts"]) for it in items)
    return (encode_string(rec["matchId"]) + encode_long(rec["receivedAt"])
            + (encode_long(len(items)) + body if items else b"") + encode_long(0))


class Reader:
    def __init__(self, buf: bytes):
        self.buf = bytes(buf)
        self.pos = 0

    def long(self) -> int:
        shift = 0
        u = 0
        while True:
            b = self.buf[self.pos]
            self.pos += 1
            u |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return (u >> 1) ^ -(u & 1)

    def string(self) -> str:
        n = self.long()
        s = self.buf[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8")

    def double(self) -> float:
        (x,) = struct.unpack_from("<d", self.buf, self.pos)
        self.pos += 8
        return x

    def map_long(self) -> List[Tuple[str, int]]:
        """Entries in wire order (a list, so order can be asserted)."""
        out = []
        while True:
            n = self.long()
            if n == 0:
                return out
            if n < 0:  # block with byte size
                n = -n
                self.long()
            for _ in range(n):
                k = self.string()
                out.append((k, self.long()))


def decode_aggregate(buf: bytes) -> Dict:
    r = Reader(buf)
    rec = {
        "matchId": r.string(), "windowStart": r.long(), "windowEnd": r.long(),
        "counts": r.map_long(), "units": r.map_long(), "total": r.long(), "sentiment": r.double(),
    }
    if r.pos != len(r.buf):
        raise ValueError(f"{len(r.buf) - r.pos} trailing bytes")
    return rec
