"""Enrichment: one day's staged readings joined with households and weather, as the message contract.

Pure pandas/pyarrow, no per-row Python: a day of the full dataset is ~270k readings and the
publish budget is a few seconds. The output has the 14 message fields but ``ingestion_time``,
which the publisher stamps when it sends (it is a fact about the publish, not the reading).

Where each field comes from (see ``contracts.MESSAGE_FIELDS`` for the same, field by field):
- ``meter_id``, ``timestamp``, ``energy_kwh``: the staged readings (GMT, off-grid stamps kept).
- ``tariff_type``, ``acorn_group``, ``acorn_category``: the households file, left-joined on the
  meter; an unknown household keeps its readings with these null (counted).
- ``temperature``, ``humidity``, ``wind_speed``, ``weather_summary``, ``pressure``: the hourly
  weather file at the reading's hour (floor to the hour; GMT == UTC so no zone arithmetic).
- ``cloud_cover``: the daily weather file (the hourly file has none) at the reading's
  London-local day, because the daily file's ``day`` is a London-local day.
- ``precip_intensity``: no source in the real data, always null.
A reading with no weather observation is kept with nulls and counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import (
    MESSAGE_FIELD_NAMES,
    STAGED_HOUSEHOLD_COLUMNS,
    STAGED_READING_COLUMNS,
    STAGED_WEATHER_DAILY_COLUMNS,
    STAGED_WEATHER_HOURLY_COLUMNS,
    TIMESTAMP_FORMAT,
)
from smartmeter_assets.sources.weather import london_midnight

#: The message fields the publisher stamps itself, so the enriched frame does not carry them.
PUBLISH_STAMPED_FIELDS = ("ingestion_time",)
ENRICHED_COLUMNS: tuple[str, ...] = tuple(f for f in MESSAGE_FIELD_NAMES if f not in PUBLISH_STAMPED_FIELDS)

_HOUSEHOLD_FIELDS = ("tariff_type", "acorn_group", "acorn_category")
#: Hourly weather fields whose staged name is already the message name.
_HOURLY_FIELDS = ("temperature", "humidity", "wind_speed", "weather_summary", "pressure")
_STRING_FIELDS = ("meter_id", "timestamp", *_HOUSEHOLD_FIELDS, "weather_summary")


class EnrichmentError(ValueError):
    """The staged inputs break their contract (a missing column, a duplicated key, bad energy)."""


@dataclass(frozen=True)
class EnrichmentCounts:
    """What the enrichment kept with nulls, for the materialization's metadata."""

    readings: int
    meters: int
    unknown_household_readings: int
    unknown_household_meters: int
    missing_hourly_weather_readings: int
    missing_daily_weather_readings: int
    off_grid_readings: int

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EnrichmentError(f"{what} lacks columns {missing} (has {list(frame.columns)})")


def _require_unique(frame: pd.DataFrame, column: str, what: str) -> None:
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        sample = frame.loc[duplicated, column].head(3).tolist()
        raise EnrichmentError(
            f"{what} has {int(duplicated.sum())} rows sharing a {column} (e.g. {sample}): "
            "a join on it would multiply readings"
        )


def _naive_datetimes(series: pd.Series) -> pd.Series:
    """As naive datetime64[ns]: the staged frames are naive UTC, but accept zone-aware UTC too.

    Already datetimes (the staged frames): no ``pd.to_datetime``, which still walks the first
    values in Python to decide on a cache (a few percent of a publish at full scale).
    """
    values = series if pd.api.types.is_datetime64_any_dtype(series) else pd.to_datetime(series)
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


def format_timestamps(timestamps: pd.Series) -> pd.Series:
    """``YYYY-MM-DD HH:MM:SS`` strings (seconds kept, never rounded), formatting each distinct
    stamp once: a day has ~48 distinct stamps for ~270k readings.

    Arrow's ``%S`` prints fractions for sub-second units, so the values are cast to seconds
    first; the cast is safe, so a stamp with a fraction of a second is an error, not truncated.
    """
    codes, distinct = pd.factorize(timestamps, sort=False)
    seconds = pa.array(np.asarray(distinct, dtype="datetime64[ns]"), type=pa.timestamp("ns"))
    seconds = seconds.cast(pa.timestamp("s"), safe=True)
    texts = np.asarray(pc.strftime(seconds, format=TIMESTAMP_FORMAT).to_pylist(), dtype=object)
    return pd.Series(texts[codes] if len(codes) else texts[:0], index=timestamps.index, dtype=object)


def _lookup(
    keys: pd.Series | pd.Index, table: pd.DataFrame, key: str, columns: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A left join on a unique key without a merge: the row of ``table`` for each key, by position.

    Returns the looked-up columns (None / NaN where the key is absent) and the found mask.
    pandas' merge copies and re-blocks the whole frame three times; this takes one hash lookup.
    """
    positions = pd.Index(table[key]).get_indexer(keys)
    found = positions >= 0
    safe = np.where(found, positions, 0)
    looked_up: dict[str, np.ndarray] = {}
    for column in columns:
        values = table[column]
        if len(table) == 0:
            looked_up[column] = np.full(len(positions), np.nan if values.dtype.kind == "f" else None, dtype=object)
            continue
        if values.dtype.kind in "fiub":
            taken = values.to_numpy(dtype="float64", na_value=np.nan)[safe]
            looked_up[column] = np.where(found, taken, np.nan)
        else:
            taken = values.astype(object).where(values.notna(), None).to_numpy()[safe]
            looked_up[column] = np.where(found, taken, None)
    return looked_up, found


def enrich_readings(
    readings: pd.DataFrame,
    households: pd.DataFrame,
    weather_hourly: pd.DataFrame,
    weather_daily: pd.DataFrame,
) -> tuple[pd.DataFrame, EnrichmentCounts]:
    """The day's readings as message rows (``ENRICHED_COLUMNS``), ordered by (timestamp, meter).

    The order is the publish order: every meter's readings go out in time order, and a
    re-run produces the same frame.
    """
    _require_columns(readings, STAGED_READING_COLUMNS, "readings")
    _require_columns(households, STAGED_HOUSEHOLD_COLUMNS, "households")
    _require_columns(weather_hourly, STAGED_WEATHER_HOURLY_COLUMNS, "weather_hourly")
    _require_columns(weather_daily, STAGED_WEATHER_DAILY_COLUMNS, "weather_daily")
    _require_unique(households, "meter_id", "households")
    _require_unique(weather_hourly, "time", "weather_hourly")
    _require_unique(weather_daily, "day", "weather_daily")

    energy = pd.to_numeric(readings["energy_kwh"], errors="coerce").astype("float64")
    bad_energy = energy.isna() | (energy < 0) | ~energy.abs().lt(float("inf"))
    if bad_energy.any():
        raise EnrichmentError(
            f"{int(bad_energy.sum())} staged readings have a null, negative or infinite energy; "
            "staging must reject those"
        )
    if readings["meter_id"].isna().any() or readings["timestamp"].isna().any():
        raise EnrichmentError("staged readings with a null meter_id or timestamp; staging must reject those")

    frame = pd.DataFrame(
        {
            "meter_id": readings["meter_id"].astype(str).to_numpy(),
            "stamp": _naive_datetimes(readings["timestamp"]).to_numpy(),
            "energy_kwh": energy.to_numpy(),
        }
    ).sort_values(["stamp", "meter_id"], kind="stable", ignore_index=True)
    stamps = frame["stamp"]

    house = households.assign(meter_id=households["meter_id"].astype(str))
    by_household, known = _lookup(frame["meter_id"], house, "meter_id", _HOUSEHOLD_FIELDS)

    hourly = weather_hourly.assign(time=_naive_datetimes(weather_hourly["time"]))
    by_hour, has_hourly = _lookup(pd.DatetimeIndex(stamps.dt.floor("h")), hourly, "time", _HOURLY_FIELDS)

    daily = weather_daily.assign(day=pd.to_datetime(weather_daily["day"]).astype("datetime64[ns]"))
    by_day, has_daily = _lookup(pd.DatetimeIndex(london_midnight(stamps)), daily, "day", ("cloud_cover",))

    counts = EnrichmentCounts(
        readings=len(frame),
        meters=int(frame["meter_id"].nunique()),
        unknown_household_readings=int((~known).sum()),
        unknown_household_meters=int(frame.loc[~known, "meter_id"].nunique()),
        missing_hourly_weather_readings=int((~has_hourly).sum()),
        missing_daily_weather_readings=int((~has_daily).sum()),
        off_grid_readings=int((stamps != stamps.dt.floor("30min")).sum()),
    )

    columns: dict[str, object] = {
        "meter_id": frame["meter_id"].to_numpy(dtype=object),
        "timestamp": format_timestamps(stamps).to_numpy(),
        "energy_kwh": frame["energy_kwh"].to_numpy(),
        **by_household,
        **by_hour,
        **by_day,
        "precip_intensity": np.full(len(frame), np.nan),
    }
    enriched = pd.DataFrame({name: columns[name] for name in ENRICHED_COLUMNS})
    for column in ENRICHED_COLUMNS:
        # object dtype with None for null (strings), float64 with NaN (numbers): what JSON and
        # Parquet both read as null
        enriched[column] = enriched[column].astype(object if column in _STRING_FIELDS else "float64")
    return enriched, counts
