"""The DarkSky weather files: hourly (UTC, unordered, gaps) and daily (local midnight in UTC).

Which file each message field comes from is in ``contracts.MESSAGE_FIELDS``: temperature,
humidity, wind speed, pressure and summary from the hourly file; cloud cover only exists in the
daily file; precipitation intensity exists in neither.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from smartmeter_assets.contracts import (
    LOCAL_TIMEZONE,
    STAGED_WEATHER_DAILY_COLUMNS,
    STAGED_WEATHER_HOURLY_COLUMNS,
    TIMESTAMP_FORMAT,
    TIMESTAMP_LENGTH,
    WEATHER_DAILY_COLUMNS,
    WEATHER_DAILY_FILE,
    WEATHER_HOURLY_COLUMNS,
    WEATHER_HOURLY_FILE,
    SourceRejectReason,
)
from smartmeter_assets.sources.source_read import (
    SourceRead,
    duplicate_key_rejects,
    make_rejects,
    raw_lines,
    read_csv_text,
)

#: source column -> staged column, for the numeric hourly fields (blank or garbage -> null)
HOURLY_NUMBERS = {
    "temperature": "temperature",
    "apparentTemperature": "apparent_temperature",
    "dewPoint": "dew_point",
    "humidity": "humidity",
    "pressure": "pressure",
    "windSpeed": "wind_speed",
    "windBearing": "wind_bearing",
    "visibility": "visibility",
}
HOURLY_TEXTS = {"precipType": "precip_type", "icon": "icon", "summary": "weather_summary"}
DAILY_NUMBERS = {
    "cloudCover": "cloud_cover",
    "temperatureMin": "temperature_min",
    "temperatureMax": "temperature_max",
    "humidity": "humidity",
    "windSpeed": "wind_speed",
    "pressure": "pressure",
    "uvIndex": "uv_index",
}
DAILY_TEXTS = {"summary": "summary"}


def parse_times(text: pd.Series) -> pd.Series:
    """Timestamps as written in the files (optionally with a fractional suffix); bad ones -> NaT."""
    return pd.to_datetime(text.str.slice(0, TIMESTAMP_LENGTH), format=TIMESTAMP_FORMAT, errors="coerce")


def _unparseable(path: Path, text: pd.DataFrame, mask: pd.Series, columns: tuple[str, ...]) -> pd.DataFrame:
    return make_rejects(
        path.name,
        text.loc[mask, "__line"],
        SourceRejectReason.UNPARSEABLE_TIMESTAMP.value,
        raw_lines(text[mask], columns),
    )


def _values(kept: pd.DataFrame, numbers: dict[str, str], texts: dict[str, str]) -> dict[str, pd.Series]:
    values = {staged: pd.to_numeric(kept[source], errors="coerce") for source, staged in numbers.items()}
    values.update({staged: kept[source].replace("", None) for source, staged in texts.items()})
    return values


def _read_keyed(
    path: Path,
    columns: tuple[str, ...],
    staged_columns: tuple[str, ...],
    key: str,
    key_of: Callable[[pd.Series], pd.Series],
    numbers: dict[str, str],
    texts: dict[str, str],
) -> SourceRead:
    """One weather file: rows keyed by ``key_of(time)``, bad stamps and repeated keys rejected."""
    csv_text = read_csv_text(path, columns)
    text = csv_text.frame
    times = parse_times(text["time"])
    bad = times.isna()
    text["__key"] = None
    text.loc[~bad, "__key"] = key_of(times[~bad])
    kept, duplicates = duplicate_key_rejects(path, text[~bad], ["__key"], columns)
    frame = pd.DataFrame({key: kept["__key"], **_values(kept, numbers, texts)})
    frame = frame[list(staged_columns)].sort_values(key).reset_index(drop=True)
    return SourceRead(
        source_file=path.name,
        frame=frame,
        rows_read=csv_text.rows_read,
        rejects=pd.concat([csv_text.rejects, _unparseable(path, text, bad, columns), duplicates], ignore_index=True),
    )


def read_weather_hourly(data_dir: Path) -> SourceRead:
    """Hourly weather sorted by time, one row per hour present in the file (missing hours stay so)."""
    return _read_keyed(
        data_dir / WEATHER_HOURLY_FILE,
        WEATHER_HOURLY_COLUMNS,
        STAGED_WEATHER_HOURLY_COLUMNS,
        "time",
        lambda times: times,
        HOURLY_NUMBERS,
        HOURLY_TEXTS,
    )


def london_midnight(utc_times: pd.Series) -> pd.Series:
    """The London day of naive UTC instants, as naive midnight: 23:00 UTC in summer is the next day."""
    return utc_times.dt.tz_localize("UTC").dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None).dt.normalize()


def read_weather_daily(data_dir: Path) -> SourceRead:
    """Daily weather keyed by the London-local ``day`` its ``time`` column stands for."""
    return _read_keyed(
        data_dir / WEATHER_DAILY_FILE,
        WEATHER_DAILY_COLUMNS,
        STAGED_WEATHER_DAILY_COLUMNS,
        "day",
        lambda times: london_midnight(times).dt.date,
        DAILY_NUMBERS,
        DAILY_TEXTS,
    )
