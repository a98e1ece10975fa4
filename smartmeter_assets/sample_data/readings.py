"""A sample's readings as one households x half-hours grid, simulated with array operations.

Why a grid: every household has the same half-hours, so the load model, the injected anomalies and
the source quirks are operations on (household, slot) arrays instead of one pandas row per
reading (the row-by-row generator made 12k rows/s; the full 5,566-household sample took minutes).
The only Python loops run once per household (never per reading), to draw its random numbers in
the order the row-by-row generator drew them: the same seed still gives the same bytes, which
``test_sample`` checks against the row-by-row reference (``row_by_row.py``).

Energy is held as integer watt-hours (the source's three decimals of kWh) in an int16 grid: 2 bytes
a half-hour keeps months of full-scale days in memory, and the CSV text of a value is a table look-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import GROUND_TRUTH_COLUMNS, TIMESTAMP_FORMAT, InjectedAnomaly
from smartmeter_assets.sample_data.spec import (
    CAP_ANY,
    CAP_NIGHT,
    CAP_WEEKEND_DAY,
    DAY_SHAPE,
    SIZE_OF_CATEGORY,
    SLOTS_PER_DAY,
    SampleSpec,
)

#: Watt-hours value that stands for the source's ``Null`` energy.
NULL_WH = -1
#: Households simulated per array operation: bounds the float64 working set (chunk x slots).
HOUSEHOLD_CHUNK = 256
#: The off-grid stamp written for a few meters (kept as read downstream), as seconds into its day.
OFF_GRID_SECONDS = 12 * 3600 + 37 * 60 + 27
DAY_SECONDS = 24 * 3600
SLOT_SECONDS = DAY_SECONDS // SLOTS_PER_DAY


@dataclass(frozen=True)
class OffGridReadings:
    """Readings at stamps off the half-hour grid: household index, seconds after the start, energy text."""

    households: np.ndarray
    seconds: np.ndarray
    energy_text: tuple[str, ...]


@dataclass(frozen=True)
class ReadingGrid:
    """Every reading of a sample; row ``h`` is the ``h``-th household of the households file."""

    watt_hours: np.ndarray  # int16 (households, slots); NULL_WH where the source says Null
    written: np.ndarray  # bool (households, slots): False in gaps and before late starts
    anomalous: np.ndarray  # bool (households, slots): injected; never removed, never Null
    off_grid: OffGridReadings
    duplicates: np.ndarray  # flat indices (h * slots + slot) written a second time
    truth: pd.DataFrame  # GROUND_TRUTH_COLUMNS, one row per injected half-hour
    seconds: float  # simulation time, for the log

    @property
    def rows(self) -> int:
        """Rows the block files hold: the written grid, the off-grid stamps and the duplicates."""
        return int(self.written.sum()) + len(self.off_grid.households) + len(self.duplicates)


def slot_times(spec: SampleSpec) -> pd.DatetimeIndex:
    """The half-hour grid of the span, GMT as the source writes it."""
    return pd.date_range(datetime.combine(spec.start, datetime.min.time()), periods=spec.slots, freq="30min")


def slot_stamps(spec: SampleSpec) -> np.ndarray:
    """The grid's timestamps as the source text (without the ``.0000000`` suffix)."""
    return np.asarray(slot_times(spec).strftime(TIMESTAMP_FORMAT), dtype=object)


def _normal_load(
    spec: SampleSpec, households: pd.DataFrame, hourly: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Half-hourly watt-hours for every household and slot (before gaps, quirks and anomalies)."""
    slots = slot_times(spec)
    temp_by_hour = pd.Series(hourly["temperature"].astype(float).to_numpy(), index=pd.to_datetime(hourly["time"]))
    temperature = temp_by_hour.reindex(slots.floor("h")).to_numpy()
    half_hour = np.asarray(slots.hour * 2 + slots.minute // 30)
    weekend = np.asarray(slots.dayofweek >= 5)
    weekend_day = weekend & (half_hour >= 18) & (half_hour < 34)
    night = (half_hour >= 4) & (half_hour < 10)
    shape = DAY_SHAPE[half_hour] * np.where(weekend_day, 1.35, 1.0)
    heating_hours = ((half_hour >= 12) & (half_hour < 46)).astype(float) * 0.8 + 0.2
    heating = np.clip(15.5 - temperature, 0, None) / 10.0 * heating_hours
    tariff_shift = np.where((half_hour >= 34) & (half_hour < 42), 0.85, 1.0)  # ToU homes move load out of the peak

    category_size = np.array([SIZE_OF_CATEGORY.get(g, 1.0) for g in households["Acorn_grouped"]])
    tou = (households["stdorToU"] == "ToU").to_numpy()
    count, width = len(households), spec.slots
    watt_hours = np.empty((count, width), dtype=np.int16)
    for low in range(0, count, HOUSEHOLD_CHUNK):
        high = min(count, low + HOUSEHOLD_CHUNK)
        size, spread, noise = np.empty(high - low), np.empty(high - low), np.empty((high - low, width))
        for k in range(high - low):  # per household, in the reference's draw order
            size[k] = category_size[low + k] * rng.lognormal(0, 0.3)
            spread[k] = rng.uniform(0.6, 1.4)
            noise[k] = rng.lognormal(0, 0.22, width)
        load = (0.11 * size)[:, None] * shape
        load[tou[low:high]] *= tariff_shift
        load += (0.09 * size * spread)[:, None] * heating
        load *= noise
        np.minimum(load, CAP_ANY, out=load)
        load[:, night] = np.minimum(load[:, night], CAP_NIGHT)
        load[:, weekend_day] = np.minimum(load[:, weekend_day], CAP_WEEKEND_DAY)
        watt_hours[low:high] = np.rint(load * 1000)  # == np.round(load, 3) in thousandths
    return watt_hours


def _as_watt_hours(kwh: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(kwh) * 1000).astype(np.int16)


def _place(
    rng: np.random.Generator, taken: np.ndarray, watt_hours: np.ndarray, candidates: np.ndarray, kwh: np.ndarray
) -> np.ndarray:
    """Write ``kwh`` from a random free candidate slot on, over free slots only; returns the slots written."""
    free = candidates[~taken[candidates]]
    if len(free) == 0:
        return free
    start = int(rng.choice(free))
    rows = np.arange(start, min(start + len(kwh), len(taken)))
    rows = rows[~taken[rows]]
    watt_hours[rows] = _as_watt_hours(kwh[: len(rows)])
    taken[rows] = True
    return rows


def _inject(spec: SampleSpec, watt_hours: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    """Overwrite chosen slots with anomalies; returns the anomalous mask and one (household, slot, kind) row each."""
    count, width = watt_hours.shape
    slots = slot_times(spec)
    half_hour = np.asarray(slots.hour * 2 + slots.minute // 30)
    weekend = np.asarray(slots.dayofweek >= 5)
    inner = np.arange(SLOTS_PER_DAY, width - SLOTS_PER_DAY)  # keep the first and last day clean
    night = inner[(half_hour[inner] >= 4) & (half_hour[inner] <= 7)]
    weekend_day = inner[weekend[inner] & (half_hour[inner] >= 18) & (half_hour[inner] <= 30)]
    anomalous = np.zeros((count, width), dtype=bool)
    placed: list[tuple[int, np.ndarray, InjectedAnomaly]] = []

    for h in range(count):  # the kWh values are drawn before the slot, as the reference did
        row = (rng, anomalous[h], watt_hours[h])
        if h % 2 == 0:
            kwh = np.round(rng.uniform(2.5, 6.0, 1), 3)
            placed.append((h, _place(*row, inner, kwh), InjectedAnomaly.METER_FAULT_SPIKE))
        if h % 3 == 0:
            kwh = np.round(rng.uniform(0.6, 1.2, int(rng.integers(2, 4))), 3)
            placed.append((h, _place(*row, night, kwh), InjectedAnomaly.NIGHT_USAGE))
        if h % 3 == 1:
            kwh = np.round(rng.uniform(1.6, 1.99, int(rng.integers(2, 4))), 3)
            placed.append((h, _place(*row, weekend_day, kwh), InjectedAnomaly.WEEKEND_DAYTIME_SURGE))
        if h % 8 == 5:
            n = int(rng.integers(1, 4)) * SLOTS_PER_DAY
            candidates = inner[: -n - SLOTS_PER_DAY : SLOTS_PER_DAY]
            placed.append((h, _place(*row, candidates, np.full(n, 0.05)), InjectedAnomaly.FLAT_LINE))

    injected = pd.DataFrame(
        {
            "household": np.concatenate([np.full(len(rows), h) for h, rows, _ in placed] or [np.empty(0, int)]),
            "slot": np.concatenate([rows for _, rows, _ in placed] or [np.empty(0, int)]),
            "kind": [kind.value for _, rows, kind in placed for _ in range(len(rows))],
        }
    )
    return anomalous, injected


def _source_quirks(
    spec: SampleSpec, watt_hours: np.ndarray, anomalous: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, OffGridReadings, np.ndarray]:
    """Gaps, short histories, zero runs, Nulls, off-grid stamps and exact duplicates, as in the real files."""
    count, width = watt_hours.shape
    written = np.ones((count, width), dtype=bool)
    written[3::7, : SLOTS_PER_DAY * min(10, spec.days // 4)] = False  # short histories: joined late
    for h in range(count):
        if h % 5 == 2:  # a gap of a few hours
            start = int(rng.integers(SLOTS_PER_DAY, max(SLOTS_PER_DAY + 1, width - SLOTS_PER_DAY)))
            written[h, start : start + int(rng.integers(4, 12))] = False
        if h % 6 == 4:  # a run of zeros (meter reads but nothing is used)
            start = int(rng.integers(SLOTS_PER_DAY, max(SLOTS_PER_DAY + 1, width - SLOTS_PER_DAY)))
            run = watt_hours[h, start : start + 12]
            run[~anomalous[h, start : start + 12]] = 0
    written |= anomalous  # anomalies are never removed

    for low in range(0, count, HOUSEHOLD_CHUNK):  # one uniform per reading, drawn in row order
        high = min(count, low + HOUSEHOLD_CHUNK)
        nulls = (rng.random((high - low) * width).reshape(high - low, width) < 0.0008) & ~anomalous[low:high]
        watt_hours[low:high][nulls] = NULL_WH

    off_households, off_seconds, off_text = [], [], []
    for h in range(min(3, count)):
        day = int(rng.integers(1, spec.days - 1))
        off_households.append(h)
        off_seconds.append(day * DAY_SECONDS + OFF_GRID_SECONDS)
        off_text.append(f" {rng.uniform(0.1, 0.4):.3f} ")
    off_grid = OffGridReadings(
        np.array(off_households, dtype=int), np.array(off_seconds, dtype=np.int64), tuple(off_text)
    )

    candidates = written & ~anomalous
    per_household = np.cumsum(candidates.sum(axis=1))
    # pandas' DataFrame.sample(random_state=int) draws exactly this; kept so the bytes stay the same
    picks = np.random.RandomState(int(rng.integers(1 << 30))).choice(
        int(per_household[-1]), size=min(12, int(written.sum())), replace=False
    )
    duplicates = []
    for pick in picks:
        h = int(np.searchsorted(per_household, pick, side="right"))
        before = int(per_household[h - 1]) if h else 0
        duplicates.append(h * width + int(np.flatnonzero(candidates[h])[pick - before]))
    return written, off_grid, np.array(duplicates, dtype=np.int64)


def simulate_readings(
    spec: SampleSpec, households: pd.DataFrame, hourly: pd.DataFrame, rng: np.random.Generator
) -> ReadingGrid:
    """Normal load, then injected anomalies, then the source's quirks (this order is the random draws' order)."""
    started = time.perf_counter()
    watt_hours = _normal_load(spec, households, hourly, rng)
    anomalous, injected = _inject(spec, watt_hours, rng)
    written, off_grid, duplicates = _source_quirks(spec, watt_hours, anomalous, rng)
    truth = pd.DataFrame(
        {
            GROUND_TRUTH_COLUMNS[0]: households["LCLid"].to_numpy()[injected["household"].to_numpy()],
            GROUND_TRUTH_COLUMNS[1]: slot_stamps(spec)[injected["slot"].to_numpy()],
            GROUND_TRUTH_COLUMNS[2]: injected["kind"].to_numpy(),
        }
    )
    truth = truth.sort_values(list(GROUND_TRUTH_COLUMNS[:2])).reset_index(drop=True)
    return ReadingGrid(
        watt_hours, written, anomalous, off_grid, duplicates, truth, seconds=time.perf_counter() - started
    )


def off_grid_stamps(spec: SampleSpec, off_grid: OffGridReadings) -> list[str]:
    """The off-grid readings' timestamps as the source text (without the suffix)."""
    start = datetime.combine(spec.start, datetime.min.time())
    return [(start + timedelta(seconds=int(s))).strftime(TIMESTAMP_FORMAT) for s in off_grid.seconds]
