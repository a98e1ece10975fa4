"""A deterministic generator of Kaggle-format "Smart Meters in London" files, quirks included.

Why our own sample: the real dataset is 10 GB under a licence we do not redistribute; tests and
the demo need a small set that looks the same to the readers (header, padding, ``Null``, suffixes,
off-grid stamps, duplicates, gaps, unordered weather, summer-time daily stamps) and carries a known
set of injected anomalies, written to a ground-truth file that only the anomaly scoring reads.

The load model is simple but shaped like London homes: a low night, a morning bump, an evening
peak (17-21), busier weekend days, a seasonal heating load driven by the generated temperature,
bigger homes in Affluent groups, and ToU households shifting a little load out of the peak.
Normal readings are kept under the fixed anomaly rules' thresholds so the injected ones are the
anomalies.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import (
    ACORN_GROUPS,
    GROUND_TRUTH_FILE,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS_FILE,
    LOCAL_TIMEZONE,
    TIMESTAMP_FORMAT,
    WEATHER_DAILY_COLUMNS,
    WEATHER_DAILY_FILE,
    WEATHER_HOURLY_COLUMNS,
    WEATHER_HOURLY_FILE,
)
from smartmeter_assets.sample_data.blocks import Progress, write_blocks
from smartmeter_assets.sample_data.readings import simulate_readings
from smartmeter_assets.sample_data.spec import CATEGORY_OF_GROUP, SampleSpec

log = logging.getLogger(__name__)

__all__ = ["SampleSpec", "generate"]


def households_frame(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    ids = [f"MAC{4000 + 37 * i:06d}" for i in range(spec.households)]
    groups = list(rng.choice(ACORN_GROUPS, size=spec.households))
    if spec.households >= 4:  # the two odd classifications the real file has
        groups[1], groups[2] = "ACORN-U", "ACORN-"
    grouped = [CATEGORY_OF_GROUP.get(g, g) for g in groups]
    tariff = np.where(rng.random(spec.households) < 0.25, "ToU", "Std")
    blocks = [f"block_{i // spec.block_size}" for i in range(spec.households)]
    frame = pd.DataFrame(
        dict(zip(HOUSEHOLD_COLUMNS, [ids, tariff, groups, grouped, blocks], strict=True)),
    )
    return frame.sort_values(["Acorn", "LCLid"]).reset_index(drop=True)  # the real file is by Acorn


def hourly_weather(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Hourly UTC weather from one day before to two days after the readings."""
    hours = pd.date_range(
        datetime.combine(spec.start - timedelta(days=1), datetime.min.time()),
        periods=(spec.days + 3) * 24,
        freq="h",
    )
    day_of_year = hours.dayofyear.to_numpy()
    seasonal = 10.5 - 7.0 * np.cos(2 * np.pi * (day_of_year - 20) / 365.25)
    diurnal = 3.0 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 9) / 24)
    drift = np.cumsum(rng.normal(0, 0.35, len(hours)))
    drift -= np.convolve(drift, np.ones(72) / 72, mode="same")  # weather systems, not a trend
    temperature = seasonal + diurnal + 2.0 * drift / max(1.0, np.abs(drift).max() / 3)
    humidity = np.clip(0.95 - 0.02 * (temperature - 4) + rng.normal(0, 0.05, len(hours)), 0.35, 1.0)
    wind = np.clip(rng.gamma(2.2, 2.0, len(hours)), 0.1, 20)
    cloud = np.clip(rng.beta(2, 2, len(hours)), 0, 1)
    summary = np.select(
        [cloud < 0.25, cloud < 0.6, humidity > 0.93],
        ["Clear", "Partly Cloudy", "Foggy"],
        default="Mostly Cloudy",
    )
    frame = pd.DataFrame(
        {
            "visibility": np.round(np.clip(14 - 10 * (humidity - 0.6), 0.5, 16), 2),
            "windBearing": rng.integers(0, 360, len(hours)),
            "temperature": np.round(temperature, 2),
            "time": hours.strftime(TIMESTAMP_FORMAT),
            "dewPoint": np.round(temperature - (1 - humidity) * 20, 2),
            "pressure": np.round(1013 + 8 * np.sin(np.arange(len(hours)) / 60) + rng.normal(0, 2, len(hours)), 2),
            "apparentTemperature": np.round(temperature - 0.3 * wind, 2),
            "windSpeed": np.round(wind, 2),
            "precipType": np.where(temperature < 1, "snow", "rain"),
            "icon": np.where(cloud < 0.25, "clear-day", "partly-cloudy-day"),
            "humidity": np.round(humidity, 2),
            "summary": summary,
        }
    )[list(WEATHER_HOURLY_COLUMNS)]
    frame["pressure"] = frame["pressure"].astype(object)
    frame.loc[rng.random(len(frame)) < 0.01, "pressure"] = ""  # blank pressures, as in the real file
    frame.attrs["cloud"] = cloud
    return frame


def daily_weather(spec: SampleSpec, hourly: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per London day, ``time`` = local midnight written in UTC (23:00 the day before in summer)."""
    stamps = pd.to_datetime(hourly["time"])
    local_day = stamps.dt.tz_localize("UTC").dt.tz_convert(LOCAL_TIMEZONE).dt.date
    temperature = hourly["temperature"].astype(float)
    by_day = pd.DataFrame({"day": local_day, "t": temperature, "cloud": hourly.attrs["cloud"]}).groupby("day")
    days = sorted(set(local_day))[1:-1]  # whole days only
    midnight = pd.DatetimeIndex([pd.Timestamp(d).tz_localize(LOCAL_TIMEZONE) for d in days])
    utc = midnight.tz_convert("UTC").tz_localize(None)

    def at(hour: int) -> list[str]:
        return [(u + timedelta(hours=hour)).strftime(TIMESTAMP_FORMAT) for u in utc]

    tmin = by_day["t"].min().loc[days].to_numpy()
    tmax = by_day["t"].max().loc[days].to_numpy()
    cloud = by_day["cloud"].mean().loc[days].to_numpy()
    n = len(days)
    values: dict[str, object] = {
        "temperatureMax": np.round(tmax, 2),
        "temperatureMaxTime": at(14),
        "windBearing": rng.integers(0, 360, n),
        "icon": np.where(cloud < 0.4, "partly-cloudy-day", "cloudy"),
        "dewPoint": np.round(tmin - 1.5, 2),
        "temperatureMinTime": at(5),
        "cloudCover": np.round(cloud, 2),
        "windSpeed": np.round(rng.gamma(2.2, 2.0, n), 2),
        "pressure": np.round(1013 + rng.normal(0, 6, n), 2),
        "apparentTemperatureMinTime": at(5),
        "apparentTemperatureHigh": np.round(tmax - 1, 2),
        "precipType": np.where(tmin < 1, "snow", "rain"),
        "visibility": np.round(rng.uniform(5, 14, n), 2),
        "humidity": np.round(rng.uniform(0.65, 0.95, n), 2),
        "apparentTemperatureHighTime": at(14),
        "apparentTemperatureLow": np.round(tmin - 2, 2),
        "apparentTemperatureMax": np.round(tmax - 1, 2),
        "uvIndex": rng.integers(0, 4, n),
        "time": [u.strftime(TIMESTAMP_FORMAT) for u in utc],
        "sunsetTime": at(17),
        "temperatureLow": np.round(tmin, 2),
        "temperatureMin": np.round(tmin, 2),
        "temperatureHigh": np.round(tmax, 2),
        "sunriseTime": at(7),
        "temperatureHighTime": at(14),
        "uvIndexTime": at(12),
        "summary": np.where(cloud < 0.4, "Partly cloudy throughout the day.", "Mostly cloudy throughout the day."),
        "temperatureLowTime": at(29),
        "apparentTemperatureMin": np.round(tmin - 2, 2),
        "apparentTemperatureMaxTime": at(14),
        "apparentTemperatureLowTime": at(29),
        "moonPhase": np.round((np.arange(n) % 29.5) / 29.5, 2),
    }
    return pd.DataFrame(values)[list(WEATHER_DAILY_COLUMNS)]


def prepare_folder(out: Path) -> Path:
    """Create ``out`` and its blocks folder, removing old blocks (a smaller sample must not keep stale ones)."""
    blocks_dir = out / "halfhourly_dataset"
    blocks_dir.mkdir(parents=True, exist_ok=True)
    for old in blocks_dir.glob("block_*.csv"):
        old.unlink()
    return blocks_dir


def write_side_files(
    out: Path,
    spec: SampleSpec,
    rng: np.random.Generator,
    households: pd.DataFrame,
    hourly: pd.DataFrame,
    daily: pd.DataFrame,
    truth: pd.DataFrame,
) -> int:
    """Write households, both weather files (shuffled, hours missing) and the ground truth; returns weather hours."""
    households.to_csv(out / HOUSEHOLDS_FILE, index=False)
    dropped_hours = rng.random(len(hourly)) < 0.01
    hourly[~dropped_hours].sample(frac=1.0, random_state=spec.seed).to_csv(out / WEATHER_HOURLY_FILE, index=False)
    daily.sample(frac=1.0, random_state=spec.seed).to_csv(out / WEATHER_DAILY_FILE, index=False)
    truth.to_csv(out / GROUND_TRUTH_FILE, index=False)
    return int((~dropped_hours).sum())


def generate(out: Path, spec: SampleSpec | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Write the four Kaggle-format sources plus the ground truth under ``out``; returns counts.

    ``progress`` is called after each block file with (rows written, rows to write).
    """
    spec = spec or SampleSpec()
    started = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    blocks_dir = prepare_folder(out)

    households = households_frame(spec, rng)
    hourly = hourly_weather(spec, rng)
    daily = daily_weather(spec, hourly, rng)
    grid = simulate_readings(spec, households, hourly, rng)
    log.info(
        "simulated %s half-hours of %s households in %.2f s (%s/s)",
        f"{grid.written.size:,}",
        f"{len(households):,}",
        grid.seconds,
        f"{grid.written.size / max(grid.seconds, 1e-9):,.0f}",
    )
    weather_hours = write_side_files(out, spec, rng, households, hourly, daily, grid.truth)
    writing = time.perf_counter()
    rows = write_blocks(blocks_dir, spec, households, grid, progress)
    finished = time.perf_counter()
    counts = {
        "households": len(households),
        "reading_rows": rows,
        "weather_hours": weather_hours,
        "weather_days": len(daily),
        "ground_truth_rows": len(grid.truth),
    }
    log.info(
        "wrote %s reading rows in %s block files in %.2f s (%s rows/s)",
        f"{rows:,}",
        f"{households['file'].nunique():,}",
        finished - writing,
        f"{rows / max(finished - writing, 1e-9):,.0f}",
    )
    log.info(
        "sample written to %s in %.2f s (%s reading rows/s overall): %s",
        out,
        finished - started,
        f"{rows / max(finished - started, 1e-9):,.0f}",
        counts,
    )
    return counts
