"""Aggregation semantics on batch DataFrames (the same functions the streaming job uses)."""
from __future__ import annotations

import struct

import pytest

from emostream_spark import transform as T
from emostream_spark.config import AggregationConfig

from helpers import collect_aggregates, emojis, reactions_df, reference_aggregates

BIG = 1_700_000_000_000  # a realistic epoch-ms window start (multiple of 2000)


def dataset(catalog):
    fire, laughing, heart, crying, angry, thinking, screaming = emojis(
        catalog, "fire", "laughing", "heart-eyes", "crying", "angry", "thinking", "screaming")
    rows = []
    # window alignment: [0,2000) [2000,4000) [4000,6000), and a real epoch
    rows += [("align", fire, 0), ("align", fire, 1999), ("align", laughing, 2000), ("align", laughing, 3999),
             ("align", heart, 4000), ("align", fire, BIG + 1999), ("align", laughing, BIG + 2000)]
    # units = ceil(count / 1000)
    rows += [("units", fire, 10_000 + i % 2000) for i in range(1001)]
    rows += [("units", laughing, 10_001) for _ in range(1000)]
    rows += [("units", heart, 11_999)]
    rows += [("units", crying, 10_500) for _ in range(2000)]
    # unknown emojis are ignored (including near-misses of catalog entries)
    rows += [("unknown", fire, 500), ("unknown", "🦄", 600), ("unknown", "x", 700), ("unknown", "", 800),
             ("unknown", fire + " ", 900), ("unknown", "\u2764", 950)]  # red heart without U+FE0F
    rows += [("ghost", "🦄", 100)]  # a window with only unknown emojis does not exist
    # sentiment mix
    rows += [("mood", fire, 6000)] * 3 + [("mood", crying, 6001)] * 2 + [("mood", angry, 6002)] \
        + [("mood", thinking, 6003)] * 4 + [("mood", screaming, 7999)] * 5
    # top-N = 8 with ties broken by catalog order
    football, cricket, clapping, party, red_heart, thumbs_up, surprised = emojis(
        catalog, "football", "cricket", "clapping", "party", "red-heart", "thumbs-up", "surprised")
    for e, n in [(football, 5), (cricket, 5), (surprised, 1), (thumbs_up, 3), (red_heart, 3), (party, 3),
                 (clapping, 3), (heart, 3), (laughing, 3), (fire, 3)]:
        rows += [("ties", e, 20_000 + k) for k in range(n)]
    return rows


@pytest.fixture(scope="module")
def rows(catalog):
    return dataset(catalog)


@pytest.fixture(scope="module")
def result(spark, catalog, rules, rows):
    df = T.filter_catalog(reactions_df(spark, rows), catalog)
    return collect_aggregates(T.aggregate_windows(df, catalog, rules))


@pytest.fixture(scope="module")
def expected(catalog, rules, rows):
    return reference_aggregates(rows, catalog, rules.window_ms, rules.unit_scale, rules.top_n)


def test_window_alignment_at_boundaries(result, catalog):
    fire, laughing, heart = emojis(catalog, "fire", "laughing", "heart-eyes")
    align = {start: rec for (m, start), rec in result.items() if m == "align"}
    assert sorted(align) == [0, 2000, 4000, BIG, BIG + 2000]
    assert align[0]["counts"] == {fire: 2}            # ts 0 and 1999
    assert align[2000]["counts"] == {laughing: 2}     # ts 2000 and 3999
    assert align[4000]["counts"] == {heart: 1}
    assert align[BIG]["counts"] == {fire: 1}
    assert align[BIG + 2000]["counts"] == {laughing: 1}
    for start, rec in align.items():
        assert rec["windowEnd"] == start + 2000


def test_every_window_matches_the_reference(result, expected):
    assert set(result) == set(expected)
    for key, exp in expected.items():
        got = result[key]
        assert got == exp, key
        # map entry ORDER matters for byte equality: counts in catalog order, units in rank order
        assert list(got["counts"].items()) == list(exp["counts"].items()), key
        assert list(got["units"].items()) == list(exp["units"].items()), key


def test_counts_and_total(result, catalog):
    fire, laughing, heart, crying = emojis(catalog, "fire", "laughing", "heart-eyes", "crying")
    rec = result[("units", 10_000)]
    assert rec["counts"] == {fire: 1001, laughing: 1000, heart: 1, crying: 2000}
    assert list(rec["counts"]) == [fire, laughing, heart, crying]  # catalog order
    assert rec["total"] == 4002


def test_units_are_ceil_of_count_over_scale_in_rank_order(result, catalog):
    fire, laughing, heart, crying = emojis(catalog, "fire", "laughing", "heart-eyes", "crying")
    units = result[("units", 10_000)]["units"]
    assert list(units.items()) == [(crying, 2), (fire, 2), (laughing, 1), (heart, 1)]


def test_top_n_cutoff_ties_broken_by_catalog_order(result, catalog):
    rec = result[("ties", 20_000)]
    assert len(rec["counts"]) == 10
    names = {e.emoji: e.name for e in catalog}
    assert [names[e] for e in rec["units"]] == [
        "cricket", "football",  # 5 each: cricket is earlier in the catalog
        "fire", "laughing", "heart-eyes", "clapping", "party", "red-heart",  # 3 each, catalog order
    ]  # thumbs-up (3, later in the catalog) and surprised (1) fall outside the top 8
    assert set(rec["units"].values()) == {1}


def test_top_n_smaller_than_distinct_emojis(spark, catalog):
    fire, laughing, heart, clapping, party = emojis(catalog, "fire", "laughing", "heart-eyes", "clapping", "party")
    rows = ([("m", clapping, 1)] * 3 + [("m", heart, 2)] * 3 + [("m", party, 3)] * 1
            + [("m", laughing, 4)] * 5 + [("m", fire, 5)] * 3)
    rules = AggregationConfig(window_ms=2000, grace_ms=500, unit_scale=2, top_n=3)
    got = collect_aggregates(T.aggregate_windows(reactions_df(spark, rows), catalog, rules))[("m", 0)]
    # laughing 5 -> ceil(5/2)=3; then the 3-way tie fire/heart-eyes/clapping -> fire, heart-eyes
    assert list(got["units"].items()) == [(laughing, 3), (fire, 2), (heart, 2)]
    assert got["total"] == 15


def test_sentiment_is_one_exact_division(result, catalog):
    rec = result[("mood", 6000)]
    # fire 3*80 + crying 2*(-60) + angry 1*(-90) + thinking 4*0 + screaming 5*(-20) = -70; total 15
    num = 3 * 80 + 2 * -60 + 1 * -90 + 4 * 0 + 5 * -20
    assert num == -70 and rec["total"] == 15
    expected = float(num) / float(100 * 15)
    assert struct.pack("<d", rec["sentiment"]) == struct.pack("<d", expected)
    assert rec["sentiment"] == -70 / 1500


def test_unknown_emojis_are_ignored(result, catalog):
    (fire,) = emojis(catalog, "fire")
    rec = result[("unknown", 0)]
    assert rec["counts"] == {fire: 1}
    assert rec["units"] == {fire: 1}
    assert rec["total"] == 1
    assert rec["sentiment"] == 0.8
    assert not [k for k in result if k[0] == "ghost"]


def test_valence_centi_from_catalog(catalog):
    by_name = {e.name: e.valence_centi for e in catalog}
    assert by_name["fire"] == 80 and by_name["angry"] == -90 and by_name["thinking"] == 0
    assert len(catalog) == 16


def test_event_time_is_the_one_the_server_vouches_for(spark, catalog, rules):
    """ts counts only within tsToleranceMs behind receivedAt, else receivedAt picks the window: the
    same rule as eventTimeOf in the TypeScript aggregator (schemas/aggregation.json)."""
    from pyspark.sql import functions as F
    fire, = emojis(catalog, "fire")
    recv = BIG + 1_900
    tol = rules.ts_tolerance_ms
    cases = [
        ("ahead", recv + 4_500, BIG),                   # a fast clock: window of receipt, not 4.5 s later
        ("hour-behind", recv - 3_600_000, BIG),         # a slow clock: window of receipt, never late
        ("in-band", recv - tol, BIG),                   # trusted: same window here
        ("in-band-prev", BIG + 3_900, BIG + 2_000),      # trusted, received 200 ms later in the next window
        ("just-outside", recv - tol - 1, BIG),          # one ms past the band: receive time
    ]
    data = [(m, "u", fire, ts, (BIG + 4_100) if m == "in-band-prev" else recv) for m, ts, _ in cases]
    df = (spark.createDataFrame(data, "matchId string, userId string, emoji string, tsMs long, recvMs long")
          .select("matchId", "userId", "emoji", F.timestamp_millis("tsMs").alias("ts"),
                  F.timestamp_millis("recvMs").alias("receivedAt")))
    got = {m: start for (m, start) in collect_aggregates(T.aggregate_windows(df, catalog, rules))}
    assert got == {m: start for m, _, start in cases}


def test_ts_tolerance_must_stay_below_grace(tmp_path):
    from emostream_spark.config import load_aggregation
    p = tmp_path / "aggregation.json"
    p.write_text('{"windowMs": 2000, "graceMs": 500, "unitScale": 1000, "topN": 8, "tsToleranceMs": 250}')
    assert load_aggregation(p, {}).ts_tolerance_ms == 250
    with pytest.raises(ValueError, match="smaller than graceMs"):
        load_aggregation(p, {"TS_TOLERANCE_MS": "500"})
