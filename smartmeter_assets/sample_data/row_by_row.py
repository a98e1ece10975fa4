"""The row-by-row sample generator, kept as the executable specification of the vectorised one.

Why keep it: it is the generator every committed sample and earlier measurement came from, one
pandas row per reading, easy to read and slow (12k rows/s). ``test_sample`` checks that the
vectorised generator writes the very same bytes for several sizes, spans and seeds, and
``benchmarks/sample.py`` measures both in one process. Not used by the pipeline.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import (
    GROUND_TRUTH_COLUMNS,
    READING_COLUMNS,
    TIMESTAMP_FORMAT,
    InjectedAnomaly,
)
from smartmeter_assets.sample_data.blocks import STAMP_SUFFIX
from smartmeter_assets.sample_data.generator import (
    daily_weather,
    hourly_weather,
    households_frame,
    prepare_folder,
    write_side_files,
)
from smartmeter_assets.sample_data.readings import slot_times
from smartmeter_assets.sample_data.spec import (
    CAP_ANY,
    CAP_NIGHT,
    CAP_WEEKEND_DAY,
    DAY_SHAPE,
    SIZE_OF_CATEGORY,
    SampleSpec,
)


def _normal_load(
    spec: SampleSpec, households: pd.DataFrame, hourly: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Half-hourly kWh for every household and slot (before gaps, quirks and anomalies)."""
    slots = slot_times(spec)
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


def generate_row_by_row(out: Path, spec: SampleSpec | None = None) -> dict[str, int]:
    """Write the same files as ``generator.generate``, one pandas row per reading; returns counts."""
    spec = spec or SampleSpec()
    rng = np.random.default_rng(spec.seed)
    blocks_dir = prepare_folder(out)

    households = households_frame(spec, rng)
    hourly = hourly_weather(spec, rng)
    daily = daily_weather(spec, hourly, rng)
    readings = _normal_load(spec, households, hourly, rng)
    truth = _inject(readings, rng)
    written = _source_quirks(readings, spec, rng)
    weather_hours = write_side_files(out, spec, rng, households, hourly, daily, truth)

    block_of = dict(zip(households["LCLid"], households["file"], strict=True))
    for number, (block, rows) in enumerate(written.groupby(written["LCLid"].map(block_of), sort=True)):
        suffix = STAMP_SUFFIX if number < round(spec.suffix_share * households["file"].nunique()) else ""
        stamps = rows["stamp"].dt.strftime(TIMESTAMP_FORMAT) + suffix
        frame = pd.DataFrame(dict(zip(READING_COLUMNS, [rows["LCLid"], stamps, rows["energy"]], strict=True)))
        frame.to_csv(blocks_dir / f"{block}.csv", index=False)
    return {
        "households": len(households),
        "reading_rows": len(written),
        "weather_hours": weather_hours,
        "weather_days": len(daily),
        "ground_truth_rows": len(truth),
    }
