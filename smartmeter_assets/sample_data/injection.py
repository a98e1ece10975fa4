"""Inject anomalies of every known kind into a copy of a Kaggle-format folder of real meters.

Why: a detector tuned on our generated sample scores itself on anomalies it was shaped around; a
utility judges it on real meters. This tool takes any folder in the Kaggle layout (real meters,
for instance), writes a copy whose readings carry events of all six
:class:`~smartmeter_assets.contracts.InjectedAnomaly` kinds, and a ``ground_truth_anomalies.csv``
(one row per anomalous half-hour, GMT stamps as in the source) that only the scoring reads.

Every event is drawn at random, so no detector can lean on one magnitude, position or length:

- ``meter_fault_spike``: 1-2 half-hours at any time, set to 2-6 kWh or raised by 0.8-3x the
  meter's own 99th percentile, at least 0.8 kWh above the reading it replaces;
- ``night_usage``: 2-6 consecutive half-hours between 02:00 and 05:00 London time, set to
  0.5-1.5 kWh or raised by 0.25-1.2 kWh, at least 0.2 kWh above the reading;
- ``weekend_daytime_surge``: 2-9 consecutive half-hours of a Saturday or Sunday between 09:00 and
  17:00 London time, set to 1.5-3 kWh or raised by 0.6-2 kWh, at least 0.3 kWh above the reading;

The ranges reach below the fixed rules' thresholds' neighbourhood (0.5 kWh at night, 1.5 kWh on
weekend days, 2 kWh anywhere) and below the project's own sample events, because a tool the
project has never seen may inject weaker and shorter events than ours: a detector must not be
tuned to the easy end.
- ``flat_line``: 1-3 whole days of one repeated value (the meter's median, its last reading
  before, or 0.02-0.15 kWh), from London midnight or from any half-hour;
- ``scaled_down``: 1-5 whole London days multiplied by a factor of 0.1-0.5;
- ``zeroed_window``: 6-12 consecutive hours of 0 from any half-hour.

``lasting`` (``smartmeter inject --lasting``): night use and weekend surges that last, as another
tool may inject them (a device run every night, a home busy every weekend): the same half-hours,
drawn as above, on 3-7 nights running, or on both days of 1-3 weekends running. A detector judging
a day against the meter's days around it meets the event's other days there.

Beside the ground truth, :data:`EVENTS_FILE` describes each event (how it was made: set to a
level or raised by an amount, its size), so a benchmark can say where a detector's misses are.

Events never share a meter-day with another event, nor touch the day next to one, so each
anomalous meter-day belongs to one event. A reading written by the source more than once is
changed everywhere it appears; ``Null`` readings, off-grid stamps and every other file are copied
unchanged.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import (
    GROUND_TRUTH_COLUMNS,
    GROUND_TRUTH_FILE,
    HOUSEHOLDS_FILE,
    LOCAL_TIMEZONE,
    READING_COLUMNS,
    TIMESTAMP_FORMAT,
    TIMESTAMP_LENGTH,
    WEATHER_DAILY_FILE,
    WEATHER_HOURLY_FILE,
    InjectedAnomaly,
)
from smartmeter_assets.sources.readings import block_files

log = logging.getLogger(__name__)

#: Events of each kind per meter-day when no count is given: sparse, as anomalies are.
EVENT_DENSITY = 1 / 1000
#: A day takes an event only when it holds this many readings (a whole day is 46-50).
MIN_DAY_READINGS = 40
#: Share of an event's readings that must actually change (a zeroed window on zeros is no event).
MIN_CHANGED_SHARE = 0.5
ATTEMPTS_PER_EVENT = 500
SLOTS_PER_HOUR = 2
METER, STAMP, ENERGY = READING_COLUMNS


#: Beside the ground truth, one row per event: how it was made and how large it is. Only the
#: detector benchmark reads it (to say where the misses are); scoring and detectors never do.
EVENTS_FILE = "ground_truth_events.csv"
EVENT_DETAIL_COLUMNS = ("event", "mode", "replaced", "value")


class InjectionError(ValueError):
    """The source folder cannot be injected into (missing files, output over the source)."""


@dataclass(frozen=True)
class InjectionSpec:
    seed: int = 0
    #: Events of each kind; None: one per 1 / :data:`EVENT_DENSITY` eligible meter-days, at least 1.
    events_per_kind: int | None = None
    #: Only London days from ``first_day`` for ``days`` days take events (None: the whole span).
    first_day: date | None = None
    days: int | None = None
    #: Night use on 3-7 nights running and surges on both days of 1-3 weekends (see the module).
    lasting: bool = False


@dataclass
class MeterSeries:
    """One meter's on-grid readings in time order, with their London-time calendar."""

    meter_id: str
    stamps: np.ndarray  # datetime64[ns], GMT as in the source
    energy: np.ndarray  # float64, modified in place by the events
    local_day: np.ndarray  # datetime64[D], London
    local_slot: np.ndarray  # half-hour of the London clock, 0..47
    weekday: np.ndarray  # London weekday, Monday = 0
    p99: float
    median: float

    @classmethod
    def of(cls, meter_id: str, stamps: pd.Series, energy: pd.Series) -> MeterSeries:
        local = stamps.dt.tz_localize("UTC").dt.tz_convert(LOCAL_TIMEZONE)
        values = energy.to_numpy(dtype=float).copy()
        return cls(
            meter_id,
            stamps.to_numpy(),
            values,
            local.dt.tz_localize(None).dt.normalize().to_numpy().astype("datetime64[D]"),
            (local.dt.hour * SLOTS_PER_HOUR + local.dt.minute // 30).to_numpy(),
            local.dt.dayofweek.to_numpy(),
            float(np.quantile(values, 0.99)),
            float(np.median(values)),
        )

    def day_rows(self, day: np.datetime64) -> np.ndarray:
        return np.flatnonzero(self.local_day == day)

    def run_from(self, start: int, half_hours: int) -> np.ndarray:
        """Rows from ``start`` whose stamps fall in the ``half_hours`` half-hours that follow it."""
        end = self.stamps[start] + np.timedelta64(30 * half_hours, "m")
        return np.flatnonzero((self.stamps >= self.stamps[start]) & (self.stamps < end))


#: How an event was made, for the benchmark's breakdown of misses only (never the detector's input):
#: ``set`` (readings set to a level), ``raise`` (raised by an amount), ``median``/``last``/``constant``
#: (a flat line's value), ``factor`` (scaled down), ``zero``.
Mode = str
Event = tuple[np.ndarray, np.ndarray, Mode]  # rows of the meter, their new values, how they were made
Builder = Callable[[MeterSeries, np.datetime64, np.random.Generator], Event | None]


def _level_mode(absolute: bool) -> Mode:
    return "set" if absolute else "raise"


def _consecutive(rows: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray | None:
    if len(rows) < length:
        return None
    start = int(rng.integers(0, len(rows) - length + 1))
    return rows[start : start + length]


#: London half-hours of night use and of a weekend daytime surge: (first, end).
NIGHT_SLOTS = (2 * SLOTS_PER_HOUR, 5 * SLOTS_PER_HOUR)
DAYTIME_SLOTS = (9 * SLOTS_PER_HOUR, 17 * SLOTS_PER_HOUR)


def _same_slots(series: MeterSeries, days: list[np.datetime64], slots: tuple[int, int]) -> np.ndarray:
    """The meter's rows in London half-hours ``slots`` (first, end) of each of ``days``."""
    rows = np.flatnonzero(np.isin(series.local_day, days))
    return rows[(series.local_slot[rows] >= slots[0]) & (series.local_slot[rows] < slots[1])]


@dataclass(frozen=True)
class Rise:
    """How an event raises readings: set to a level in ``set_to`` or raised by an amount in
    ``raise_by`` (even odds, one draw per reading), and at least ``at_least`` above each."""

    set_to: tuple[float, float]
    raise_by: tuple[float, float]
    at_least: float

    def apply(self, series: MeterSeries, rows: np.ndarray, rng: np.random.Generator) -> Event:
        current = series.energy[rows]
        absolute = rng.random() < 0.5
        values = rng.uniform(*self.set_to, len(rows)) if absolute else current + rng.uniform(*self.raise_by, len(rows))
        return rows, np.maximum(values, current + self.at_least), _level_mode(absolute)


NIGHT_RISE = Rise(set_to=(0.5, 1.5), raise_by=(0.25, 1.2), at_least=0.2)
SURGE_RISE = Rise(set_to=(1.5, 3.0), raise_by=(0.6, 2.0), at_least=0.3)


def _spike(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = _consecutive(series.day_rows(day), 1 if rng.random() < 0.8 else 2, rng)
    if rows is None:
        return None
    current = series.energy[rows]
    absolute = rng.random() < 0.5
    values = rng.uniform(2.0, 6.0, len(rows)) if absolute else current + series.p99 * rng.uniform(0.8, 3.0, len(rows))
    return rows, np.maximum(values, current + 0.8), _level_mode(absolute)


def _night(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = _consecutive(_same_slots(series, [day], NIGHT_SLOTS), int(rng.integers(2, 7)), rng)
    if rows is None:
        return None
    return NIGHT_RISE.apply(series, rows, rng)


def _lasting_night(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    nights = [day + np.timedelta64(n, "D") for n in range(int(rng.integers(3, 8)))]
    length = int(rng.integers(2, 7))
    first = int(rng.integers(NIGHT_SLOTS[0], NIGHT_SLOTS[1] - length + 1))
    rows = _same_slots(series, nights, (first, first + length))
    if len(rows) < length * len(nights):  # a night missing: not the lasting event drawn
        return None
    return NIGHT_RISE.apply(series, rows, rng)


def _lasting_surge(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = series.day_rows(day)
    if len(rows) == 0 or series.weekday[rows[0]] != 5:  # from a Saturday
        return None
    weekends = int(rng.integers(1, 4))
    days = [day + np.timedelta64(7 * week + offset, "D") for week in range(weekends) for offset in (0, 1)]
    length = int(rng.integers(2, 10))
    first = int(rng.integers(DAYTIME_SLOTS[0], DAYTIME_SLOTS[1] - length + 1))
    rows = _same_slots(series, days, (first, first + length))
    if len(rows) < length * len(days):
        return None
    return SURGE_RISE.apply(series, rows, rng)


def _surge(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = series.day_rows(day)
    if len(rows) == 0 or series.weekday[rows[0]] < 5:
        return None
    rows = _consecutive(_same_slots(series, [day], DAYTIME_SLOTS), int(rng.integers(2, 10)), rng)
    if rows is None:
        return None
    return SURGE_RISE.apply(series, rows, rng)


def _flat(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = series.day_rows(day)
    start = int(rows[0] if rng.random() < 0.5 else rng.choice(rows))
    rows = series.run_from(start, 48 * int(rng.integers(1, 4)))
    choice = rng.integers(0, 3)
    if choice == 0:
        value, mode = series.median, "median"
    elif choice == 1 and start > 0:
        value, mode = series.energy[start - 1], "last"
    else:
        value, mode = rng.uniform(0.02, 0.15), "constant"
    return rows, np.full(len(rows), value), mode


def _scaled(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    last = day + np.timedelta64(int(rng.integers(1, 6)), "D")
    rows = np.flatnonzero((series.local_day >= day) & (series.local_day < last))
    return rows, series.energy[rows] * rng.uniform(0.1, 0.5), "factor"


def _zeroed(series: MeterSeries, day: np.datetime64, rng: np.random.Generator) -> Event | None:
    rows = series.run_from(int(rng.choice(series.day_rows(day))), int(rng.integers(12, 25)))
    return rows, np.zeros(len(rows)), "zero"


BUILDERS: dict[InjectedAnomaly, Builder] = {
    InjectedAnomaly.METER_FAULT_SPIKE: _spike,
    InjectedAnomaly.NIGHT_USAGE: _night,
    InjectedAnomaly.WEEKEND_DAYTIME_SURGE: _surge,
    InjectedAnomaly.FLAT_LINE: _flat,
    InjectedAnomaly.SCALED_DOWN: _scaled,
    InjectedAnomaly.ZEROED_WINDOW: _zeroed,
}
LASTING_BUILDERS: dict[InjectedAnomaly, Builder] = {
    **BUILDERS,
    InjectedAnomaly.NIGHT_USAGE: _lasting_night,
    InjectedAnomaly.WEEKEND_DAYTIME_SURGE: _lasting_surge,
}


def _read_blocks(source: Path) -> list[tuple[Path, pd.DataFrame]]:
    blocks = block_files(source)
    if not blocks:
        raise InjectionError(f"no reading blocks under {source} (expected halfhourly_dataset/block_N.csv)")
    read = []
    for path in blocks:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if tuple(frame.columns) != READING_COLUMNS:
            raise InjectionError(f"{path}: columns {list(frame.columns)}, expected {list(READING_COLUMNS)}")
        read.append((path, frame))
    return read


def _meter_series(blocks: list[tuple[Path, pd.DataFrame]]) -> list[MeterSeries]:
    """Every meter's numeric, on-grid readings, each (meter, stamp) once."""
    frames = []
    for _, frame in blocks:
        stamps = pd.to_datetime(frame[STAMP].str[:TIMESTAMP_LENGTH], format=TIMESTAMP_FORMAT, errors="coerce")
        energy = pd.to_numeric(frame[ENERGY].str.strip(), errors="coerce")
        frames.append(pd.DataFrame({"meter_id": frame[METER], "timestamp": stamps, "energy_kwh": energy}))
    readings = pd.concat(frames, ignore_index=True).dropna()
    on_grid = (readings["timestamp"].dt.second == 0) & readings["timestamp"].dt.minute.isin((0, 30))
    readings = readings[on_grid & (readings["energy_kwh"] >= 0)].drop_duplicates(["meter_id", "timestamp"])
    readings = readings.sort_values(["meter_id", "timestamp"])
    return [
        MeterSeries.of(str(meter), rows["timestamp"], rows["energy_kwh"])
        for meter, rows in readings.groupby("meter_id", sort=True)
    ]


def _eligible_days(series: MeterSeries, spec: InjectionSpec) -> np.ndarray:
    days, counts = np.unique(series.local_day, return_counts=True)
    days = days[counts >= MIN_DAY_READINGS]
    if spec.first_day is not None:
        days = days[days >= np.datetime64(spec.first_day)]
    if spec.days is not None:
        start = np.datetime64(spec.first_day) if spec.first_day is not None else series.local_day.min()
        days = days[days < start + np.timedelta64(spec.days, "D")]
    # keep the last day clean: a multi-day event must not run off the end of the data
    return days[days < series.local_day.max()]


def plan_and_apply(meters: list[MeterSeries], spec: InjectionSpec) -> pd.DataFrame:
    """Place the events, change the meters' energy in place; returns the ground truth rows.

    The rows carry :data:`EVENT_DETAIL_COLUMNS` besides the ground-truth columns: the event's
    number, how it was made and the reading each row replaced, for counting and for the
    benchmark's breakdown of misses (:func:`event_details`), never for a detector.
    """
    rng = np.random.default_rng(spec.seed)
    eligible = [_eligible_days(series, spec) for series in meters]
    weights = np.array([len(days) for days in eligible], dtype=float)
    if weights.sum() == 0:
        raise InjectionError("no meter has a whole day of readings in the span to inject into")
    per_kind = spec.events_per_kind or max(1, round(weights.sum() * EVENT_DENSITY))
    used: list[set[np.datetime64]] = [set() for _ in meters]
    truth: list[pd.DataFrame] = []
    one_day = np.timedelta64(1, "D")
    for kind, build in (LASTING_BUILDERS if spec.lasting else BUILDERS).items():
        placed = 0
        for _ in range(per_kind * ATTEMPTS_PER_EVENT):
            if placed == per_kind:
                break
            index = int(rng.choice(len(meters), p=weights / weights.sum()))
            series, day = meters[index], rng.choice(eligible[index])
            if {day - one_day, day, day + one_day} & used[index]:
                continue
            event = build(series, day, rng)
            if event is None or len(event[0]) == 0:
                continue
            rows, values, mode = event
            values = np.round(values, 3)
            touched = set(np.unique(series.local_day[rows]))
            margin = {d + step for d in touched for step in (-one_day, one_day)}
            changed = np.abs(values - series.energy[rows]) > 1e-9
            if (touched | margin) & used[index] or changed.mean() < MIN_CHANGED_SHARE:
                continue
            replaced = series.energy[rows].copy()
            series.energy[rows] = values
            used[index] |= touched
            placed += 1
            truth.append(
                pd.DataFrame(
                    {
                        "meter_id": series.meter_id,
                        "timestamp": series.stamps[rows],
                        "kind": kind.value,
                        "event": len(truth),
                        "mode": mode,
                        "replaced": replaced,
                        "value": values,
                    }
                )
            )
        if placed < per_kind:
            log.warning("placed %d of %d %s events: too few free meter-days", placed, per_kind, kind.value)
    columns = [*GROUND_TRUTH_COLUMNS, *EVENT_DETAIL_COLUMNS]
    frame = pd.concat(truth, ignore_index=True) if truth else pd.DataFrame(columns=columns)
    return frame.sort_values(["meter_id", "timestamp"]).reset_index(drop=True)


def event_details(truth: pd.DataFrame) -> pd.DataFrame:
    """One row per event of :func:`plan_and_apply`'s rows: where, how it was made and how large.

    ``excess``: the mean rise of the event's readings over the readings they replaced (kWh;
    negative for scaled-down, flat and zeroed events); ``level``: their mean new value;
    ``factor``: new over replaced energy (the scaling of a scaled-down event).
    """
    grouped = truth.assign(rise=truth["value"] - truth["replaced"]).groupby("event", sort=True)
    details = grouped.agg(
        meter_id=("meter_id", "first"),
        kind=("kind", "first"),
        mode=("mode", "first"),
        first_stamp=("timestamp", "min"),
        half_hours=("timestamp", "size"),
        excess=("rise", "mean"),
        level=("value", "mean"),
        replaced=("replaced", "sum"),
        new=("value", "sum"),
    )
    details["factor"] = (details["new"] / details["replaced"].where(details["replaced"] > 0)).round(3)
    details[["excess", "level"]] = details[["excess", "level"]].round(3)
    return details.drop(columns=["replaced", "new"]).reset_index()


def _write_blocks(blocks: list[tuple[Path, pd.DataFrame]], source: Path, out: Path, meters: list[MeterSeries]) -> None:
    new_values = {}
    for series in meters:
        stamps = pd.DatetimeIndex(series.stamps).strftime(TIMESTAMP_FORMAT)
        new_values.update(zip(series.meter_id + "|" + stamps, series.energy, strict=True))
    for path, frame in blocks:
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        keys = frame[METER] + "|" + frame[STAMP].str[:TIMESTAMP_LENGTH]
        values = keys.map(new_values)
        original = pd.to_numeric(frame[ENERGY].str.strip(), errors="coerce")
        changed = values.notna() & original.notna() & ((values - original).abs() > 1e-9)
        written = frame.copy()
        written.loc[changed, ENERGY] = values[changed].map(lambda v: f" {v:.3f} ")
        written.to_csv(target, index=False)


def inject(source: Path, out: Path, spec: InjectionSpec | None = None) -> dict[str, int]:
    """Write ``out``: ``source`` with injected events plus the ground truth; returns counts."""
    spec = spec or InjectionSpec()
    source, out = Path(source).resolve(), Path(out).resolve()
    if out == source:
        raise InjectionError("the output folder must not be the source folder")
    missing = [
        name for name in (HOUSEHOLDS_FILE, WEATHER_HOURLY_FILE, WEATHER_DAILY_FILE) if not (source / name).is_file()
    ]
    if missing:
        raise InjectionError(f"{source}: missing {', '.join(missing)}")
    blocks = _read_blocks(source)
    meters = _meter_series(blocks)
    truth = plan_and_apply(meters, spec)
    out.mkdir(parents=True, exist_ok=True)
    for name in (HOUSEHOLDS_FILE, WEATHER_HOURLY_FILE, WEATHER_DAILY_FILE):
        shutil.copyfile(source / name, out / name)
    _write_blocks(blocks, source, out, meters)
    written = truth.assign(timestamp=pd.DatetimeIndex(truth["timestamp"]).strftime(TIMESTAMP_FORMAT))
    written.loc[:, list(GROUND_TRUTH_COLUMNS)].to_csv(out / GROUND_TRUTH_FILE, index=False)
    event_details(truth).to_csv(out / EVENTS_FILE, index=False)
    counts = {"meters": len(meters), "ground_truth_rows": len(truth)}
    for kind in InjectedAnomaly:
        counts[f"{kind.value}_events"] = int(truth.loc[truth["kind"] == kind.value, "event"].nunique())
    log.info("injected into %s: %s", out, counts)
    return counts
