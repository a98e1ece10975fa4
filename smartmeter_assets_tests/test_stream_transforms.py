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
    london_wall_clock,
)
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.batch import split_classified
from smartmeter_assets.stream.schema import message_schema
from smartmeter_assets.stream.transforms import KAFKA_SCHEMA, anomaly_thresholds, classify

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


def _contract_day_of_week(moment: datetime) -> int:
    return moment.isoweekday() % 7 + 1  # Python: Monday=1..Sunday=7 -> the contract: Sunday=1


def _time_columns(spark: SparkSession, start: datetime, half_hours: int) -> list[tuple[datetime, dict[str, Any]]]:
    """Every GMT half-hour from ``start`` through the stream's transforms, checked against the reference."""
    stamps = [start + timedelta(minutes=30 * i) for i in range(half_hours)]
    rows = classified_rows(spark, [message(timestamp=s.strftime(contracts.TIMESTAMP_FORMAT)) for s in stamps])
    for stamp, row in zip(stamps, rows, strict=True):
        local = london_wall_clock(stamp)
        day_of_week = _contract_day_of_week(local)
        assert row["timestamp"] == stamp, "the stored timestamp stays GMT as read"
        assert row["reading_date"] == stamp.date(), "the partition is the GMT day of the stored timestamp"
        assert row["hour_of_day"] == local.hour, stamp
        assert row["day_of_week"] == day_of_week, stamp
        assert row["is_peak_hour"] == (PEAK_HOURS[0] <= local.hour < PEAK_HOURS[1]), stamp
        assert row["is_weekend"] == (day_of_week in WEEKEND_DAYS), stamp
    return list(zip(stamps, rows, strict=True))


def test_time_columns_every_hour_of_a_winter_week(spark: SparkSession) -> None:
    rows = [row for _, row in _time_columns(spark, datetime(2013, 1, 5), 7 * 48)]  # from a Saturday, GMT = London
    assert {rows[0]["day_of_week"], rows[48]["day_of_week"]} == {7, 1}  # Saturday, Sunday
    assert [row["hour_of_day"] for row in rows[:48:2]] == list(range(24))


def test_summer_readings_are_read_on_londons_clock(spark: SparkSession) -> None:
    rows = dict(_time_columns(spark, datetime(2013, 7, 5), 3 * 48))  # Friday 2013-07-05 .. Sunday, BST
    assert rows[datetime(2013, 7, 5, 16, 30)]["is_peak_hour"]  # 17:30 in London
    assert rows[datetime(2013, 7, 5, 16, 30)]["hour_of_day"] == 17
    assert not rows[datetime(2013, 7, 5, 20, 0)]["is_peak_hour"]  # 21:00 in London
    assert rows[datetime(2013, 7, 5, 23, 0)]["day_of_week"] == 7  # Friday 23:00 GMT is Saturday 00:00 BST
    assert rows[datetime(2013, 7, 5, 23, 0)]["is_weekend"]
    assert not rows[datetime(2013, 7, 7, 23, 0)]["is_weekend"]  # Sunday 23:00 GMT is Monday 00:00 BST


@pytest.mark.parametrize(
    ("sunday", "half_hours", "hour_counts"),
    [
        ("2013-03-31", 46, {0: 2, 1: 0, 2: 2}),  # clocks forward at 01:00 GMT: 01:00-02:00 never shows
        ("2013-10-27", 50, {0: 2, 1: 4, 2: 2}),  # clocks back at 01:00 GMT: 01:00-02:00 shows twice
    ],
)
def test_clock_change_days_have_46_and_50_half_hours(
    spark: SparkSession, sunday: str, half_hours: int, hour_counts: dict[int, int]
) -> None:
    """A day of the week on London's clock holds 46 / 50 readings at the changes (Spark's own count)."""
    saturday = datetime.fromisoformat(sunday) - timedelta(days=1)
    rows = [row for _, row in _time_columns(spark, saturday, 3 * 48)]  # Saturday .. Monday, GMT
    on_sunday = [row for row in rows if row["day_of_week"] == contracts.SUNDAY]
    assert len(on_sunday) == half_hours
    assert {h: sum(row["hour_of_day"] == h for row in on_sunday) for h in hour_counts} == hour_counts
    assert len(rows) - len(on_sunday) == 3 * 48 - half_hours


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


def test_rule_windows_are_londons_in_summer(spark: SparkSession) -> None:
    """Night (02-05) and weekend-daytime (09-17) windows are read on London's clock, BST included."""
    cases = {
        "2013-07-02 00:30:00": [],  # 01:30 BST: before the night window
        "2013-07-02 01:00:00": ["night_consumption"],  # 02:00 BST
        "2013-07-02 03:30:00": ["night_consumption"],  # 04:30 BST
        "2013-07-02 04:00:00": [],  # 05:00 BST
        "2013-07-06 07:30:00": [],  # Saturday 08:30 BST
        "2013-07-06 08:00:00": ["weekend_daytime_consumption"],  # Saturday 09:00 BST
        "2013-07-06 15:30:00": ["weekend_daytime_consumption"],  # Saturday 16:30 BST
        "2013-07-06 16:00:00": [],  # Saturday 17:00 BST
    }
    rows = classified_rows(spark, [message(timestamp=stamp, energy_kwh=1.6) for stamp in cases])
    assert [row["anomaly_reasons"] for row in rows] == list(cases.values())
    for row in rows:  # the reference agrees on the London hours
        assert row["anomaly_reasons"] == anomaly_reasons(1.6, row["hour_of_day"], row["day_of_week"], THRESHOLDS)


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


def test_both_parse_routes_give_the_same_values(spark: SparkSession) -> None:
    """A message the typed parse takes and one it refuses (text route) read the same numbers.

    Each pair differs only in how one field is written; the text route is forced by a field that
    does not fit its type (a number written as text, text in a number field).
    """
    weather = {"temperature": -3.25, "humidity": 0.93, "wind_speed": 12.0, "cloud_cover": 1, "pressure": 1013.07}
    numbers = [0.0, 0.123456789012345678, 12345678901234567890, 1e-7, 2.5e3, 7]
    values: list[Any] = []
    for energy in numbers:
        values.append(message(energy_kwh=energy, **weather))  # typed route
        values.append(message(energy_kwh=str(energy), **weather))  # text route: a number as text
    values.append(message(temperature="warm"))  # text route: no number, kept as a valid reading
    values.append(message(humidity=True, pressure={"hPa": 1013}))
    rows = classified_rows(spark, values)
    assert [row["reason"] for row in rows] == [None] * len(values)
    for index, energy in enumerate(numbers):
        typed, text = rows[2 * index], rows[2 * index + 1]
        assert typed["energy_kwh"] == text["energy_kwh"] == float(energy)
        for name, value in weather.items():
            assert typed[name] == text[name] == float(value)
    assert rows[-2]["temperature"] is None and rows[-2]["energy_kwh"] == 0.3
    assert (rows[-1]["humidity"], rows[-1]["pressure"], rows[-1]["temperature"]) == (None, None, 7.5)


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
