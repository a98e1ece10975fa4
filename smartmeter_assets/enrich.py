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
#: The staged reading columns enrichment reads (``reading_date`` only partitions the staged table).
_READING_INPUTS = tuple(c for c in STAGED_READING_COLUMNS if c != "reading_date")


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


def _require_columns(names: list[str], columns: tuple[str, ...], what: str) -> None:
    """``names`` (a frame's or a table's columns) hold every one of ``columns``."""
    missing = [c for c in columns if c not in names]
    if missing:
        raise EnrichmentError(f"{what} lacks columns {missing} (has {names})")


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


def _distinct(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """(each row's position among the distinct values, the distinct values)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    return encoded.indices, encoded.dictionary


def _taken(values: np.ndarray, codes: pa.Array, string: bool) -> pa.Array:
    """Per-distinct values (None / NaN where absent) as one column, row by row."""
    if string:
        distinct = pa.array(values, type=pa.string(), from_pandas=True)
    else:
        distinct = pa.array(values.astype("float64"), type=pa.float64(), from_pandas=True)  # NaN is null
    return distinct.take(codes)


def enrich_table(
    readings: pa.Table,
    households: pd.DataFrame,
    weather_hourly: pd.DataFrame,
    weather_daily: pd.DataFrame,
) -> tuple[pa.Table, EnrichmentCounts]:
    """The day's staged readings (Arrow, naive UTC stamps) as message rows, ordered by (timestamp, meter).

    The order is the publish order: every meter's readings go out in time order, and a re-run
    produces the same table. Every lookup and every stamp's text is computed once per distinct
    meter (~5,600) or stamp (~48), then taken row by row in Arrow: no per-row pandas objects.
    """
    _require_columns(readings.column_names, _READING_INPUTS, "readings")
    _require_columns(list(households.columns), STAGED_HOUSEHOLD_COLUMNS, "households")
    _require_columns(list(weather_hourly.columns), STAGED_WEATHER_HOURLY_COLUMNS, "weather_hourly")
    _require_columns(list(weather_daily.columns), STAGED_WEATHER_DAILY_COLUMNS, "weather_daily")
    _require_unique(households, "meter_id", "households")
    _require_unique(weather_hourly, "time", "weather_hourly")
    _require_unique(weather_daily, "day", "weather_daily")

    energy = pc.cast(readings["energy_kwh"], pa.float64())
    bad_energy = pc.or_(pc.is_null(energy), pc.or_(pc.less(energy, 0.0), pc.invert(pc.is_finite(energy))))
    if pc.any(bad_energy).as_py():
        raise EnrichmentError(
            f"{pc.sum(bad_energy).as_py()} staged readings have a null, negative or infinite energy; "
            "staging must reject those"
        )
    if readings["meter_id"].null_count or readings["timestamp"].null_count:
        raise EnrichmentError("staged readings with a null meter_id or timestamp; staging must reject those")
    rows = pa.table(
        {
            "meter_id": pc.cast(readings["meter_id"], pa.string()),
            "stamp": pc.cast(readings["timestamp"], pa.timestamp("ns")),
            "energy_kwh": energy,
        }
    )
    rows = rows.take(pc.sort_indices(rows, [("stamp", "ascending"), ("meter_id", "ascending")]))

    meter_codes, meters = _distinct(rows["meter_id"])
    house = households.assign(meter_id=households["meter_id"].astype(str))
    by_household, known = _lookup(pd.Index(meters.to_pandas()), house, "meter_id", _HOUSEHOLD_FIELDS)

    stamp_codes, distinct_stamps = _distinct(rows["stamp"])
    stamps = pd.Series(distinct_stamps.to_numpy(zero_copy_only=False).astype("datetime64[ns]"))
    hourly = weather_hourly.assign(time=_naive_datetimes(weather_hourly["time"]))
    by_hour, has_hourly = _lookup(pd.DatetimeIndex(stamps.dt.floor("h")), hourly, "time", _HOURLY_FIELDS)
    daily = weather_daily.assign(day=pd.to_datetime(weather_daily["day"]).astype("datetime64[ns]"))
    by_day, has_daily = _lookup(pd.DatetimeIndex(london_midnight(stamps)), daily, "day", ("cloud_cover",))
    off_grid = (stamps != stamps.dt.floor("30min")).to_numpy()

    meter_rows = meter_codes.to_numpy(zero_copy_only=False)
    stamp_rows = stamp_codes.to_numpy(zero_copy_only=False)
    counts = EnrichmentCounts(
        readings=rows.num_rows,
        meters=len(meters),
        unknown_household_readings=int((~known)[meter_rows].sum()),
        unknown_household_meters=int((~known).sum()),
        missing_hourly_weather_readings=int((~has_hourly)[stamp_rows].sum()),
        missing_daily_weather_readings=int((~has_daily)[stamp_rows].sum()),
        off_grid_readings=int(off_grid[stamp_rows].sum()),
    )

    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "meter_id": rows["meter_id"],
        "timestamp": _taken(format_timestamps(stamps).to_numpy(), stamp_codes, string=True),
        "energy_kwh": rows["energy_kwh"],
        **{name: _taken(values, meter_codes, name in _STRING_FIELDS) for name, values in by_household.items()},
        **{name: _taken(values, stamp_codes, name in _STRING_FIELDS) for name, values in by_hour.items()},
        **{name: _taken(values, stamp_codes, name in _STRING_FIELDS) for name, values in by_day.items()},
        "precip_intensity": pa.nulls(rows.num_rows, pa.float64()),
    }
    return pa.table({name: columns[name] for name in ENRICHED_COLUMNS}), counts


def enrich_readings(
    readings: pd.DataFrame,
    households: pd.DataFrame,
    weather_hourly: pd.DataFrame,
    weather_daily: pd.DataFrame,
) -> tuple[pd.DataFrame, EnrichmentCounts]:
    """:func:`enrich_table` for a pandas frame of staged readings (stamps naive or zone-aware UTC).

    Strings are objects with None for null, numbers float64 with NaN: what JSON and Parquet both
    read as null.
    """
    _require_columns(list(readings.columns), _READING_INPUTS, "readings")
    meters = readings["meter_id"]
    staged = pa.table(
        {
            "meter_id": pa.array(meters.where(meters.isna(), meters.astype(str)), pa.string(), from_pandas=True),
            "timestamp": pa.array(_naive_datetimes(readings["timestamp"]).to_numpy(), from_pandas=True),
            "energy_kwh": pa.array(pd.to_numeric(readings["energy_kwh"], errors="coerce").to_numpy(), from_pandas=True),
        }
    )
    enriched, counts = enrich_table(staged, households, weather_hourly, weather_daily)
    frame = enriched.to_pandas()
    for column in ENRICHED_COLUMNS:
        frame[column] = frame[column].astype(object if column in _STRING_FIELDS else "float64")
    return frame, counts
