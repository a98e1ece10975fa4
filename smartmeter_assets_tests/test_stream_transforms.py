"""The stream's transforms on hand-made Kafka rows: every band and rule boundary, every reject reason.

The expected values come from the contracts' pure reference functions (``band_of``,
``anomaly_reasons``), never from the Spark code under test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession

from smartmeter_assets import contracts
from smartmeter_assets.contracts import (
    CONSUMPTION_LEVELS,
    PEAK_HOURS,
    RAW,
    REJECTED,
    TEMPERATURE_BANDS,
    UNKNOWN_TEMPERATURE_BAND,
    WEEKEND_DAYS,
    StreamRejectReason,
    anomaly_reasons,
    band_of,
)
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.batch import split_classified
from smartmeter_assets.stream.transforms import (
    KAFKA_SCHEMA,
    anomaly_thresholds,
    classify,
    message_schema,
)

pytestmark = pytest.mark.spark

KAFKA_TIME = datetime(2026, 1, 5, 12, 0, 0)
THRESHOLDS = anomaly_thresholds(Settings())


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "meter_id": "MAC000002",
        "timestamp": "2013-01-07 10:30:00",  # a Monday
        "energy_kwh": 0.3,
        "tariff_type": "Std",
        "acorn_group": "ACORN-A",
        "acorn_category": "Affluent",
        "temperature": 7.5,
        "humidity": 0.8,
        "wind_speed": 3.1,
        "cloud_cover": 0.5,
        "weather_summary": "Overcast",
        "precip_intensity": None,
        "pressure": 1012.0,
        "ingestion_time": "2026-01-05T12:00:00.123Z",
    }
    base.update(overrides)
    return base


def kafka_rows(spark: SparkSession, values: list[bytes | str | dict[str, Any] | None]) -> DataFrame:
    rows = []
    for offset, value in enumerate(values):
        if isinstance(value, dict):
            value = json.dumps(value)
        if isinstance(value, str):
            value = value.encode()
        rows.append((b"MAC000002", value, "smart-meter-topic", offset % 3, offset, KAFKA_TIME, 0))
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def classified_rows(spark: SparkSession, values: list[Any]) -> list[dict[str, Any]]:
    frame = classify(kafka_rows(spark, values), THRESHOLDS)
    return sorted((row.asDict() for row in frame.collect()), key=lambda row: row["kafka_offset"])


def test_message_schema_is_built_from_the_contract() -> None:
    schema = message_schema()
    assert schema.fieldNames() == list(contracts.MESSAGE_FIELD_NAMES)
    assert [f.nullable for f in schema] == [f.nullable for f in contracts.MESSAGE_FIELDS]


def _edges(bands: tuple[contracts.Band, ...]) -> list[float]:
    values = []
    for band in bands:
        for bound in (band.lower, band.upper):
            if bound is not None:
                values += [bound - 1e-9, bound, bound + 1e-9]
    return sorted({*values, -40.0, 0.0, 100.0})


def test_temperature_band_and_consumption_level_at_every_boundary(spark: SparkSession) -> None:
    temperatures: list[float | None] = [*_edges(TEMPERATURE_BANDS), None]
    energies = [e for e in _edges(CONSUMPTION_LEVELS) if e >= 0]
    values = [message(temperature=t) for t in temperatures] + [message(energy_kwh=e) for e in energies]
    rows = classified_rows(spark, values)
    assert all(row["reason"] is None for row in rows)
    got_bands = [row["temperature_band"] for row in rows[: len(temperatures)]]
    assert got_bands == [band_of(TEMPERATURE_BANDS, t, UNKNOWN_TEMPERATURE_BAND) for t in temperatures]
    got_levels = [row["consumption_level"] for row in rows[len(temperatures) :]]
    assert got_levels == [band_of(CONSUMPTION_LEVELS, e) for e in energies]
    # the half-open rule, spelled out once so a reader sees it without the reference
    by_temperature = dict(zip(temperatures, got_bands, strict=True))
    assert (by_temperature[5.0], by_temperature[15.0], by_temperature[25.0]) == ("Mild", "Warm", "Hot")


def test_time_columns_every_hour_of_a_week(spark: SparkSession) -> None:
    start = datetime(2013, 1, 5)  # a Saturday
    stamps = [start + timedelta(minutes=30 * i) for i in range(7 * 48)]
    rows = classified_rows(spark, [message(timestamp=s.strftime(contracts.TIMESTAMP_FORMAT)) for s in stamps])
    for stamp, row in zip(stamps, rows, strict=True):
        day_of_week = stamp.isoweekday() % 7 + 1  # Python: Monday=1..Sunday=7 -> Spark: Sunday=1
        assert row["hour_of_day"] == stamp.hour
        assert row["day_of_week"] == day_of_week
        assert row["is_peak_hour"] == (PEAK_HOURS[0] <= stamp.hour < PEAK_HOURS[1])
        assert row["is_weekend"] == (day_of_week in WEEKEND_DAYS)
        assert row["reading_date"] == stamp.date()
    assert {rows[0]["day_of_week"], rows[48]["day_of_week"]} == {7, 1}  # Saturday, Sunday


def test_anomaly_rules_at_every_threshold_hour_and_day(spark: SparkSession) -> None:
    energies = sorted({t + d for t in THRESHOLDS.values() for d in (-1e-9, 0.0, 1e-9)} | {0.0, 5.0})
    days = {"Saturday": "2013-01-05", "Sunday": "2013-01-06", "Monday": "2013-01-07", "Friday": "2013-01-11"}
    hours = sorted({h for rule in contracts.ANOMALY_RULES if rule.hours for h in rule.hours} | {0, 1, 23})
    hours = sorted({h for hour in hours for h in (hour - 1, hour) if 0 <= h < 24})
    cases = [(e, d, h) for e in energies for d in days.values() for h in hours]
    values = [message(energy_kwh=e, timestamp=f"{d} {h:02d}:00:00") for e, d, h in cases]
    rows = classified_rows(spark, values)
    flagged = 0
    for (energy, _, _), row in zip(cases, rows, strict=True):
        expected = anomaly_reasons(energy, row["hour_of_day"], row["day_of_week"], THRESHOLDS)
        assert row["anomaly_reasons"] == expected, (energy, row["timestamp"])
        assert row["is_anomaly"] == bool(expected)
        flagged += bool(expected)
    assert 0 < flagged < len(cases)
    # a Saturday-noon 5 kWh breaks two rules and carries both, in contract order
    both = [r for (e, _, _), r in zip(cases, rows, strict=True) if e == 5.0 and r["day_of_week"] == 7]
    assert [r["anomaly_reasons"] for r in both if r["hour_of_day"] == 16] == [
        ["extreme_consumption", "weekend_daytime_consumption"]
    ]


REJECT_CASES: list[tuple[Any, StreamRejectReason]] = [
    ("{not json", StreamRejectReason.UNPARSEABLE_JSON),
    ("[1, 2]", StreamRejectReason.UNPARSEABLE_JSON),
    ("", StreamRejectReason.UNPARSEABLE_JSON),
    (None, StreamRejectReason.UNPARSEABLE_JSON),
    (b"\xff\xfe\x00", StreamRejectReason.UNPARSEABLE_JSON),
    (message(meter_id=None), StreamRejectReason.MISSING_METER_ID),
    (message(meter_id="  "), StreamRejectReason.MISSING_METER_ID),
    (message(timestamp=None), StreamRejectReason.MISSING_TIMESTAMP),
    (message(timestamp="2013-01-07T10:30"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(timestamp="2013-02-30 10:30:00"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    # what Spark's cast alone would take, but the contract's form is not
    (message(timestamp="2013-01-07T10:30:00"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(timestamp="2013-01-07 10:30:00.0000000"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(timestamp="2013-01-07"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(timestamp=" 2013-01-07 10:30:0"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(timestamp="2013-01-07 10:30:00Z"), StreamRejectReason.UNPARSEABLE_TIMESTAMP),
    (message(energy_kwh=None), StreamRejectReason.MISSING_ENERGY),
    (message(energy_kwh="Null"), StreamRejectReason.NON_NUMERIC_ENERGY),
    (message(energy_kwh="NaN"), StreamRejectReason.NON_NUMERIC_ENERGY),
    (message(energy_kwh=True), StreamRejectReason.NON_NUMERIC_ENERGY),
    (message(energy_kwh=-0.001), StreamRejectReason.NEGATIVE_ENERGY),
    (message(timestamp="2011-11-22 23:30:00"), StreamRejectReason.TIMESTAMP_OUT_OF_RANGE),
    (message(timestamp="2014-03-01 00:00:00"), StreamRejectReason.TIMESTAMP_OUT_OF_RANGE),
]


def test_every_reject_reason_with_raw_value_and_kafka_coordinates(spark: SparkSession) -> None:
    edges = [message(timestamp="2011-11-23 00:00:00"), message(timestamp="2014-02-28 23:59:59")]
    values = [value for value, _ in REJECT_CASES] + [*edges, message(energy_kwh=0.0)]
    rows = classified_rows(spark, values)
    assert [row["reason"] for row in rows] == [reason.value for _, reason in REJECT_CASES] + [None] * 3
    assert {r.value for _, r in REJECT_CASES} == {r.value for r in StreamRejectReason}
    negative = [r for _, r in REJECT_CASES].index(StreamRejectReason.NEGATIVE_ENERGY)
    bad = rows[negative]  # readable meter_id and timestamp, kept for per-day reconciliation
    assert bad["raw_value"] == json.dumps(values[negative])
    assert (bad["raw_key"], bad["topic"]) == ("MAC000002", "smart-meter-topic")
    assert (bad["published_meter_id"], bad["published_timestamp"]) == ("MAC000002", "2013-01-07 10:30:00")
    assert bad["kafka_timestamp"] == KAFKA_TIME
    assert rows[-1]["raw_value"] is None  # a valid reading does not carry its raw text


def test_split_gives_exactly_the_lake_schemas(spark: SparkSession) -> None:
    values = [message(), message(temperature=None, energy_kwh=2.5), "{oops", message(energy_kwh=-1)]
    classified = classify(kafka_rows(spark, values), THRESHOLDS).toArrow()
    readings, rejects = split_classified(classified)
    assert readings.schema == lake_arrow_schema(RAW)
    assert rejects.schema == lake_arrow_schema(REJECTED)
    assert readings.num_rows == 2 and rejects.num_rows == 2
    assert readings["timestamp"].to_pylist() == [datetime(2013, 1, 7, 10, 30)] * 2  # GMT wall clock kept
    assert readings["anomaly_reasons"].to_pylist() == [[], ["extreme_consumption"]]
    assert readings["ingestion_time"][0].as_py() == datetime(2026, 1, 5, 12, 0, 0, 123000)
    assert sorted(rejects["reason"].to_pylist()) == ["negative_energy", "unparseable_json"]
    assert rejects["ingest_date"].to_pylist() == [KAFKA_TIME.date()] * 2
    assert pa.compute.sum(rejects["kafka_offset"]).as_py() == 2 + 3
