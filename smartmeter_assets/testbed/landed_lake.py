"""Small hand-made lakes for the report tests and benchmarks: readings in, Delta ``raw/`` and ``anomalies/`` out.

The derived columns and anomaly flags are filled with the contracts' reference functions (the ones
the Spark job is tested against), so a test states only what matters to it: meter, time, kWh, and
the household and weather fields it is about. :func:`lake_from_sample` builds the same shape of
lake from the sample CSV files, standing in for the stream where a benchmark needs a full lake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from smartmeter_assets.contracts import (
    ACORN_CATEGORIES,
    ANOMALIES,
    CONSUMPTION_LEVELS,
    HOUSEHOLDS_FILE,
    PEAK_HOURS,
    RAW,
    TEMPERATURE_BANDS,
    TIMESTAMP_FORMAT,
    UNKNOWN_ACORN_CATEGORY,
    UNKNOWN_TEMPERATURE_BAND,
    WEATHER_HOURLY_FILE,
    WEEKEND_DAYS,
    anomaly_reasons,
    band_of,
)
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings

THRESHOLDS = {
    name: getattr(Settings(), name)
    for name in ("extreme_consumption_kwh", "night_consumption_kwh", "weekend_daytime_consumption_kwh")
}


def reading(meter_id: str, timestamp: str | datetime, energy_kwh: float, **fields: Any) -> dict[str, Any]:
    """One reading as the stream would land it; ``fields`` override household/weather columns."""
    when = datetime.strptime(timestamp, TIMESTAMP_FORMAT) if isinstance(timestamp, str) else timestamp
    day_of_week = when.isoweekday() % 7 + 1  # Spark's dayofweek: 1 = Sunday .. 7 = Saturday
    row: dict[str, Any] = {
        "meter_id": meter_id,
        "timestamp": when,
        "energy_kwh": float(energy_kwh),
        "tariff_type": "Std",
        "acorn_group": "ACORN-A",
        "acorn_category": "Affluent",
        "temperature": 8.0,
        "humidity": 0.8,
        "wind_speed": 3.0,
        "cloud_cover": None,
        "weather_summary": None,
        "precip_intensity": None,
        "pressure": None,
        "ingestion_time": datetime(2026, 1, 1),
    }
    row.update(fields)
    reasons = anomaly_reasons(float(energy_kwh), when.hour, day_of_week, THRESHOLDS)
    row.update(
        hour_of_day=when.hour,
        day_of_week=day_of_week,
        is_peak_hour=PEAK_HOURS[0] <= when.hour < PEAK_HOURS[1],
        is_weekend=day_of_week in WEEKEND_DAYS,
        temperature_band=band_of(TEMPERATURE_BANDS, row["temperature"], UNKNOWN_TEMPERATURE_BAND),
        consumption_level=band_of(CONSUMPTION_LEVELS, float(energy_kwh)),
        is_anomaly=bool(reasons),
        anomaly_reasons=reasons,
        kafka_partition=0,
        kafka_offset=0,
        reading_date=when.date(),
    )
    return row


def readings_table(rows: list[dict[str, Any]]) -> pa.Table:
    table = pa.Table.from_pylist(rows, schema=lake_arrow_schema(RAW))
    offsets = pa.array(range(len(rows)), pa.int64())
    return table.set_column(table.schema.get_field_index("kafka_offset"), "kafka_offset", offsets)


def write_readings(lake: Lake, rows: list[dict[str, Any]] | pa.Table) -> None:
    """Land readings in ``raw/`` and the flagged ones in ``anomalies/``, as the stream does."""
    table = rows if isinstance(rows, pa.Table) else readings_table(rows)
    options = lake.storage_options()
    write_deltalake(
        lake.url(RAW.name), table, partition_by=[RAW.partition_column], mode="append", storage_options=options
    )
    flagged = table.filter(pa.compute.field("is_anomaly"))
    if flagged.num_rows:
        write_deltalake(
            lake.url(ANOMALIES.name),
            flagged.cast(lake_arrow_schema(ANOMALIES)),
            partition_by=[ANOMALIES.partition_column],
            mode="append",
            storage_options=options,
        )


def lake_from_sample(data_dir: Path, lake: Lake) -> int:
    """Land every sample reading, enriched with household and hourly weather (a stream stand-in)."""
    households = pd.read_csv(data_dir / HOUSEHOLDS_FILE)
    households["acorn_category"] = households["Acorn_grouped"].where(
        households["Acorn_grouped"].isin(ACORN_CATEGORIES), UNKNOWN_ACORN_CATEGORY
    )
    weather = pd.read_csv(data_dir / WEATHER_HOURLY_FILE, parse_dates=["time"]).drop_duplicates("time")
    weather = weather.set_index("time")
    frames = []
    for path in sorted((data_dir / "halfhourly_dataset").glob("block_*.csv")):
        frame = pd.read_csv(path, skipinitialspace=True, dtype={"energy(kWh/hh)": str})
        frames.append(frame)
    readings = pd.concat(frames, ignore_index=True)
    readings["energy"] = pd.to_numeric(readings["energy(kWh/hh)"].str.strip(), errors="coerce")
    readings = readings.dropna(subset=["energy"]).drop_duplicates(["LCLid", "tstp"])
    readings["when"] = pd.to_datetime(readings["tstp"].str[:19], format=TIMESTAMP_FORMAT)
    readings = readings.merge(households, on="LCLid", how="left")
    hour = readings["when"].dt.floor("h")
    rows = [
        reading(
            r.LCLid,
            r.when.to_pydatetime(),
            r.energy,
            tariff_type=r.stdorToU,
            acorn_group=r.Acorn,
            acorn_category=r.acorn_category,
            temperature=_weather(weather, "temperature", h),
            humidity=_weather(weather, "humidity", h),
            wind_speed=_weather(weather, "windSpeed", h),
            ingestion_time=datetime.now(UTC).replace(tzinfo=None),
        )
        for r, h in zip(readings.itertuples(), hour, strict=True)
    ]
    write_readings(lake, rows)
    return len(rows)


def _weather(weather: pd.DataFrame, column: str, hour: pd.Timestamp) -> float | None:
    value = weather[column].get(hour)
    return None if value is None or pd.isna(value) else float(value)
