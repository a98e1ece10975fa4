"""A profile detector: each meter against its own typical load for that half-hour and day type.

For a day D, a meter's *profile* is the median of its readings in the same half-hour slot and day
type (weekday / weekend) over the surrounding :data:`WINDOW_DAYS` days on each side, D excluded
(in live use the later days simply have not landed yet). The spread is the MAD, which a few odd
readings in the history cannot inflate, so the meter's own past anomalies do not hide new ones.

Two directions:
- **high**: robust score ``(x - median) / scale`` above :data:`HIGH_SCORE`, where ``scale`` is
  1.4826 x MAD floored at :data:`MIN_SCALE_KWH` and at :data:`MIN_RELATIVE_SCALE` of the median (a
  meter that is steady at night must not make every kettle an anomaly);
- **low**: one low half-hour is ordinary (the household is out), so the low side looks for what a
  stuck or bypassed meter does: the same value repeated for at least :data:`FLAT_MIN_RUN`
  consecutive half-hours, at or below the meter's own typical load.

  A run of zeros is left out: the meter reports that nothing was used (an empty home, a supply
  off), which is a data-quality matter, while a stuck or bypassed meter repeats a small non-zero
  value.

Each detection is labelled with the kind of anomaly it looks like, from its shape and when it
happens (the calendar windows of the fixed rules, reused for naming only): a flat run is a flat
line; a lone high half-hour is a meter fault spike; high load sustained over consecutive
half-hours is night usage at night, a weekend surge on a weekend daytime, and a fault otherwise.
The detector never reads the ground truth.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import ANOMALY_RULES, WEEKEND_DAYS, AnomalyReason, InjectedAnomaly

WINDOW_DAYS = 28
HIGH_SCORE = 6.0
MIN_SCALE_KWH = 0.05
MIN_RELATIVE_SCALE = 0.25
FLAT_MIN_RUN = 24  # twelve hours of one repeated value: longer than a night of standby load
MAD_TO_SIGMA = 1.4826

DETECTION_COLUMNS = ("meter_id", "timestamp", "energy_kwh", "expected_kwh", "score", "direction", "kind")

_HOURS = {rule.reason: rule.hours for rule in ANOMALY_RULES}


def window_of(day: date) -> tuple[date, date]:
    """The first and last day of readings the detector needs for ``day`` (inclusive)."""
    return day - timedelta(days=WINDOW_DAYS), day + timedelta(days=WINDOW_DAYS)


def _calendar(readings: pd.DataFrame) -> pd.DataFrame:
    stamps = readings["timestamp"]
    # pandas: Monday = 0 .. Sunday = 6; the contract's day_of_week: 1 = Sunday .. 7 = Saturday
    day_of_week = (stamps.dt.dayofweek + 1) % 7 + 1
    return readings.assign(
        slot=stamps.dt.hour * 2 + stamps.dt.minute // 30,
        weekend=day_of_week.isin(WEEKEND_DAYS),
        day=stamps.dt.date,
    )


def _flat_runs(readings: pd.DataFrame) -> pd.Series:
    """Length of the run of identical consecutive half-hour readings each reading belongs to."""
    ordered = readings.sort_values(["meter_id", "timestamp"])
    new_meter = ordered["meter_id"].ne(ordered["meter_id"].shift())
    gap = ordered["timestamp"].diff().ne(pd.Timedelta(minutes=30))
    changed = ordered["energy_kwh"].diff().abs().gt(1e-9)
    run_id = (new_meter | gap | changed).cumsum()
    return run_id.map(run_id.value_counts()).reindex(readings.index)


def _kind_of_high(stamps: pd.Series, weekend: pd.Series, sustained: pd.Series) -> pd.Series:
    night_start, night_end = _HOURS[AnomalyReason.NIGHT_CONSUMPTION]  # type: ignore[misc]
    day_start, day_end = _HOURS[AnomalyReason.WEEKEND_DAYTIME_CONSUMPTION]  # type: ignore[misc]
    hour = stamps.dt.hour
    kind = pd.Series(InjectedAnomaly.METER_FAULT_SPIKE.value, index=stamps.index)
    kind[sustained & (hour >= night_start) & (hour < night_end)] = InjectedAnomaly.NIGHT_USAGE.value
    kind[sustained & weekend & (hour >= day_start) & (hour < day_end)] = InjectedAnomaly.WEEKEND_DAYTIME_SURGE.value
    return kind


def _sustained(target: pd.DataFrame, high: pd.Series) -> pd.Series:
    """A high reading whose previous or next half-hour (same meter) is high too."""
    highs = target.loc[high, ["meter_id", "timestamp"]]
    keys = set(zip(highs["meter_id"], highs["timestamp"], strict=True))
    step = pd.Timedelta(minutes=30)
    return pd.Series(
        [
            (m, t - step) in keys or (m, t + step) in keys
            for m, t in zip(target["meter_id"], target["timestamp"], strict=True)
        ],
        index=target.index,
    )


def detect_day(readings: pd.DataFrame, day: date) -> pd.DataFrame:
    """Anomalous readings of ``day``; ``readings`` (meter_id, timestamp, energy_kwh) cover :func:`window_of`."""
    return detect_days(readings, [day])


def detect_days(readings: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Anomalous readings of each day in ``days``, each day judged against its own window only."""
    if readings.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DETECTION_COLUMNS})
    frame = _calendar(readings.reset_index(drop=True))
    frame["run"] = _flat_runs(frame)  # runs are measured across day boundaries, once
    found = [_detect(frame, day) for day in days]
    return pd.concat(found, ignore_index=True)


def _detect(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    first, last = window_of(day)
    frame = frame[(frame["day"] >= first) & (frame["day"] <= last)]
    history = frame[frame["day"] != day]
    profile = (
        history.groupby(["meter_id", "slot", "weekend"], observed=True)["energy_kwh"].median().rename("expected_kwh")
    )
    history = history.join(profile, on=["meter_id", "slot", "weekend"])
    spread = (
        (history["energy_kwh"] - history["expected_kwh"])
        .abs()
        .groupby([history["meter_id"], history["slot"], history["weekend"]], observed=True)
        .median()
        .rename("mad")
    )
    typical = history.groupby("meter_id", observed=True)["energy_kwh"].median().rename("typical_kwh")
    target = (
        frame[frame["day"] == day]
        .join(profile, on=["meter_id", "slot", "weekend"])
        .join(spread, on=["meter_id", "slot", "weekend"])
        .join(typical, on="meter_id")
    )
    scale = np.maximum.reduce(
        [
            MAD_TO_SIGMA * target["mad"].fillna(0.0),
            np.full(len(target), MIN_SCALE_KWH),
            MIN_RELATIVE_SCALE * target["expected_kwh"].fillna(0.0),
        ]
    )
    target["score"] = (target["energy_kwh"] - target["expected_kwh"]) / scale
    high = target["score"] > HIGH_SCORE
    flat = (
        (target["run"] >= FLAT_MIN_RUN) & (target["energy_kwh"] > 0) & (target["energy_kwh"] <= target["typical_kwh"])
    )
    target["direction"] = np.where(flat, "low", np.where(high, "high", ""))
    target["kind"] = np.where(
        flat,
        InjectedAnomaly.FLAT_LINE.value,
        _kind_of_high(target["timestamp"], target["weekend"], _sustained(target, high)),
    )
    detected = target[flat | high].sort_values(["meter_id", "timestamp"])
    return detected.loc[:, list(DETECTION_COLUMNS)].reset_index(drop=True)
