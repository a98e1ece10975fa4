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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import (
    ACORN_GROUPS,
    GROUND_TRUTH_COLUMNS,
    GROUND_TRUTH_FILE,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS_FILE,
    LOCAL_TIMEZONE,
    READING_COLUMNS,
    TIMESTAMP_FORMAT,
    WEATHER_DAILY_COLUMNS,
    WEATHER_DAILY_FILE,
    WEATHER_HOURLY_COLUMNS,
    WEATHER_HOURLY_FILE,
    InjectedAnomaly,
)

log = logging.getLogger(__name__)

HOUSEHOLDS_PER_BLOCK = 8
#: ACORN letter ranges of each category (A-E Affluent, F-J Comfortable, K-Q Adversity)
CATEGORY_OF_GROUP = {
    group: ("Affluent" if i < 5 else "Comfortable" if i < 10 else "Adversity") for i, group in enumerate(ACORN_GROUPS)
}
SIZE_OF_CATEGORY = {"Affluent": 1.35, "Comfortable": 1.0, "Adversity": 0.8, "ACORN-U": 1.0, "ACORN-": 1.0}
#: Relative load by half-hour of the day (48 values): night trough, morning bump, evening peak.
_HOURLY_SHAPE = np.array(
    [0.55, 0.5, 0.45, 0.42, 0.4, 0.4, 0.45, 0.8, 1.25, 1.15, 0.95, 0.9,
     0.9, 0.95, 0.9, 0.85, 0.9, 1.3, 1.9, 2.1, 2.0, 1.6, 1.2, 0.8]
)  # fmt: skip
DAY_SHAPE = np.repeat(_HOURLY_SHAPE, 2)
#: Caps on normal load (kWh per half-hour), below the anomaly rules' defaults.
CAP_ANY, CAP_NIGHT, CAP_WEEKEND_DAY = 1.8, 0.45, 1.4


@dataclass(frozen=True)
class SampleSpec:
    households: int = 24
    days: int = 84
    start: date = date(2013, 1, 7)
    seed: int = 20131
    suffix_share: float = 0.5  # share of blocks whose timestamps carry ".0000000"

    def __post_init__(self) -> None:
        if self.days < 3 or self.households < 1:
            # anomalies and quirks keep the first and last day clean: fewer days leave no room
            raise ValueError(f"a sample needs at least 3 days and 1 household (got {self.days}, {self.households})")


def _households(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    ids = [f"MAC{4000 + 37 * i:06d}" for i in range(spec.households)]
    groups = list(rng.choice(ACORN_GROUPS, size=spec.households))
    if spec.households >= 4:  # the two odd classifications the real file has
        groups[1], groups[2] = "ACORN-U", "ACORN-"
    grouped = [CATEGORY_OF_GROUP.get(g, g) for g in groups]
    tariff = np.where(rng.random(spec.households) < 0.25, "ToU", "Std")
    blocks = [f"block_{i // HOUSEHOLDS_PER_BLOCK}" for i in range(spec.households)]
    frame = pd.DataFrame(
        dict(zip(HOUSEHOLD_COLUMNS, [ids, tariff, groups, grouped, blocks], strict=True)),
    )
    return frame.sort_values(["Acorn", "LCLid"]).reset_index(drop=True)  # the real file is by Acorn


def _hourly_weather(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
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


def _daily_weather(spec: SampleSpec, hourly: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
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


def _normal_load(
    spec: SampleSpec, households: pd.DataFrame, hourly: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Half-hourly kWh for every household and slot (before gaps, quirks and anomalies)."""
    slots = pd.date_range(datetime.combine(spec.start, datetime.min.time()), periods=spec.days * 48, freq="30min")
    temp_by_hour = pd.Series(hourly["temperature"].astype(float).to_numpy(), index=pd.to_datetime(hourly["time"]))
    temperature = temp_by_hour.reindex(slots.floor("h")).to_numpy()
    half_hour = np.asarray(slots.hour * 2 + slots.minute // 30)
    weekend = np.asarray(slots.dayofweek >= 5)
    shape = DAY_SHAPE[half_hour] * np.where(weekend & (half_hour >= 18) & (half_hour < 34), 1.35, 1.0)
    heating_hours = ((half_hour >= 12) & (half_hour < 46)).astype(float) * 0.8 + 0.2
    heating = np.clip(15.5 - temperature, 0, None) / 10.0 * heating_hours

    frames = []
    for row in households.itertuples(index=False):
        size = SIZE_OF_CATEGORY.get(row.Acorn_grouped, 1.0) * rng.lognormal(0, 0.3)
        base = 0.11 * size
        tou = row.stdorToU == "ToU"
        tariff_shift = np.where((half_hour >= 34) & (half_hour < 42), 0.85, 1.0) if tou else 1.0
        load = base * shape * tariff_shift + 0.09 * size * rng.uniform(0.6, 1.4) * heating
        load *= rng.lognormal(0, 0.22, len(slots))
        load = np.minimum(load, CAP_ANY)
        load = np.where((half_hour >= 4) & (half_hour < 10), np.minimum(load, CAP_NIGHT), load)
        load = np.where(weekend & (half_hour >= 18) & (half_hour < 34), np.minimum(load, CAP_WEEKEND_DAY), load)
        frames.append(pd.DataFrame({"LCLid": row.LCLid, "stamp": slots, "energy": np.round(load, 3)}))
    return pd.concat(frames, ignore_index=True)


def _inject(readings: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Overwrite chosen slots with anomalies; returns the ground truth (one row per half-hour)."""
    truth: list[tuple[str, pd.Timestamp, str]] = []
    taken = np.zeros(len(readings), dtype=bool)
    meters = readings["LCLid"].unique()
    stamp = readings["stamp"]
    half_hour = (stamp.dt.hour * 2 + stamp.dt.minute // 30).to_numpy()
    weekend = (stamp.dt.dayofweek >= 5).to_numpy()

    def place(candidates: np.ndarray, length: int, kind: InjectedAnomaly, values: np.ndarray) -> None:
        free = candidates[~taken[candidates]]
        if len(free) == 0:
            return
        start = int(rng.choice(free))
        rows = np.arange(start, start + length)
        rows = rows[(rows < len(readings)) & (readings["LCLid"].to_numpy()[rows] == readings["LCLid"].iat[start])]
        rows = rows[~taken[rows]]
        readings.loc[rows, "energy"] = values[: len(rows)]
        taken[rows] = True
        truth.extend((readings["LCLid"].iat[r], stamp.iat[r], kind.value) for r in rows)

    ids = readings["LCLid"].to_numpy()
    for i, meter in enumerate(meters):
        own = np.flatnonzero(ids == meter)
        own = own[48:-48]  # keep the first and last day clean
        if i % 2 == 0:
            place(own, 1, InjectedAnomaly.METER_FAULT_SPIKE, np.round(rng.uniform(2.5, 6.0, 1), 3))
        if i % 3 == 0:
            night = own[(half_hour[own] >= 4) & (half_hour[own] <= 7)]
            n = int(rng.integers(2, 4))
            place(night, n, InjectedAnomaly.NIGHT_USAGE, np.round(rng.uniform(0.6, 1.2, n), 3))
        if i % 3 == 1:
            day = own[weekend[own] & (half_hour[own] >= 18) & (half_hour[own] <= 30)]
            n = int(rng.integers(2, 4))
            place(day, n, InjectedAnomaly.WEEKEND_DAYTIME_SURGE, np.round(rng.uniform(1.6, 1.99, n), 3))
        if i % 8 == 5:
            n = int(rng.integers(1, 4)) * 48
            place(own[: -n - 48 : 48], n, InjectedAnomaly.FLAT_LINE, np.full(n, 0.05))
    ground_truth = pd.DataFrame(truth, columns=list(GROUND_TRUTH_COLUMNS))
    ground_truth["timestamp"] = pd.to_datetime(ground_truth["timestamp"]).dt.strftime(TIMESTAMP_FORMAT)
    readings.attrs["anomalous"] = taken
    return ground_truth.sort_values(["meter_id", "timestamp"]).reset_index(drop=True)


def _source_quirks(readings: pd.DataFrame, spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Gaps, short histories, zero runs, Nulls, off-grid stamps and exact duplicates, as in the real files."""
    protected = readings.attrs["anomalous"]
    keep = np.ones(len(readings), dtype=bool)
    ids = readings["LCLid"].to_numpy()
    meters = list(dict.fromkeys(ids))
    for i, meter in enumerate(meters):
        own = np.flatnonzero(ids == meter)
        if i % 7 == 3:  # short history: joins late
            keep[own[: 48 * min(10, spec.days // 4)]] = False
        if i % 5 == 2:  # a gap of a few hours
            start = int(rng.integers(48, max(49, len(own) - 48)))
            keep[own[start : start + int(rng.integers(4, 12))]] = False
        if i % 6 == 4:  # a run of zeros (meter reads but nothing is used)
            start = int(rng.integers(48, max(49, len(own) - 48)))
            run = own[start : start + 12]
            run = run[~protected[run]]
            readings.loc[run, "energy"] = 0.0
    keep |= protected  # anomalies are never removed
    energy = readings["energy"].map(lambda v: f" {v:g} ").astype(object)
    nulls = (rng.random(len(readings)) < 0.0008) & ~protected
    energy[nulls] = "Null"
    out = pd.DataFrame({"LCLid": readings["LCLid"], "stamp": readings["stamp"], "energy": energy})[keep]

    extras = []
    for meter in meters[:3]:  # off-grid stamps (kept as read downstream)
        day = pd.Timestamp(spec.start) + timedelta(days=int(rng.integers(1, spec.days - 1)))
        extras.append((meter, day + timedelta(hours=12, minutes=37, seconds=27), f" {rng.uniform(0.1, 0.4):.3f} "))
    duplicates = out[~protected[keep]].sample(n=min(12, len(out)), random_state=int(rng.integers(1 << 30)))
    out = pd.concat([out, pd.DataFrame(extras, columns=out.columns), duplicates], ignore_index=True)
    return out.sort_values(["LCLid", "stamp"], kind="stable").reset_index(drop=True)


def generate(out: Path, spec: SampleSpec | None = None) -> dict[str, int]:
    """Write the four Kaggle-format sources plus the ground truth under ``out``; returns counts."""
    spec = spec or SampleSpec()
    rng = np.random.default_rng(spec.seed)
    out.mkdir(parents=True, exist_ok=True)
    blocks_dir = out / "halfhourly_dataset"
    blocks_dir.mkdir(exist_ok=True)
    for old in blocks_dir.glob("block_*.csv"):
        old.unlink()

    households = _households(spec, rng)
    hourly = _hourly_weather(spec, rng)
    daily = _daily_weather(spec, hourly, rng)
    readings = _normal_load(spec, households, hourly, rng)
    truth = _inject(readings, rng)
    written = _source_quirks(readings, spec, rng)

    households.to_csv(out / HOUSEHOLDS_FILE, index=False)
    dropped_hours = rng.random(len(hourly)) < 0.01
    hourly[~dropped_hours].sample(frac=1.0, random_state=spec.seed).to_csv(out / WEATHER_HOURLY_FILE, index=False)
    daily.sample(frac=1.0, random_state=spec.seed).to_csv(out / WEATHER_DAILY_FILE, index=False)
    truth.to_csv(out / GROUND_TRUTH_FILE, index=False)

    block_of = dict(zip(households["LCLid"], households["file"], strict=True))
    for number, (block, rows) in enumerate(written.groupby(written["LCLid"].map(block_of), sort=True)):
        suffix = ".0000000" if number < round(spec.suffix_share * households["file"].nunique()) else ""
        stamps = rows["stamp"].dt.strftime(TIMESTAMP_FORMAT) + suffix
        frame = pd.DataFrame(dict(zip(READING_COLUMNS, [rows["LCLid"], stamps, rows["energy"]], strict=True)))
        frame.to_csv(blocks_dir / f"{block}.csv", index=False)
    counts = {
        "households": len(households),
        "reading_rows": len(written),
        "weather_hours": int((~dropped_hours).sum()),
        "weather_days": len(daily),
        "ground_truth_rows": len(truth),
    }
    log.info("sample written to %s: %s", out, counts)
    return counts
