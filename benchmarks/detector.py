"""The meter-day detector on real meters over many injection seeds: tuned seeds beside held-out ones.

Why: a detector tuned by hand on three seeds of the same 20 meters measures its tuning, not what it
finds on meters it has never seen. This loops injection seeds over a Kaggle-format folder (in
memory: the injection's own readers and events, no lake, no CSV copy), judges every meter-day with
:func:`~smartmeter_assets.reports.meter_day_detector.judge` and scores the alerts in meter-day
alerts with :func:`~smartmeter_assets.reports.scoring.score_alerts`. Seeds are split: thresholds
may be tuned on the *tuning* seeds only; the *held-out* seeds are the figure to report. A third
split leaves meters out: the held-out seeds' events on the meters the tuning seeds never touched.
With ``--clean`` it also judges the folder with nothing injected: what the detector flags on real
meters' own oddities. With ``--lasting`` night use and surges last for nights or weekends running
(``smartmeter inject --lasting``): events whose other days sit in the meter's own window.

    .venv/bin/python benchmarks/detector.py --data-dir /work/shared/real-meters \\
        --tune-seeds 1-5 --held-out-seeds 6-10 --clean [--days 120]

With ``--first-days`` and ``--days`` it judges several windows and prints a row for each: a
``smartmeter run --days 120`` judges the first 120 days of whatever data it is given, and real
meters' own oddities (summer weekends, holidays, a season turning) differ by season, so a
detector calibrated on one window can spend more than its budget on another.

Default folder: the committed sample (which carries its own ground truth: then one pass, no seeds).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import InjectedAnomaly
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.reports import meter_day_detector, scoring
from smartmeter_assets.reports.london_time import london_day
from smartmeter_assets.sample_data.injection import (
    InjectionSpec,
    MeterSeries,
    _meter_series,
    _read_blocks,
    event_details,
    plan_and_apply,
)

KINDS = [kind.value for kind in InjectedAnomaly]
#: How each kind's events are banded in the breakdown of misses: the detail and its band edges.
#: Spikes, night use and surges by their mean rise over the readings they replaced (kWh),
#: scaled-down by its factor, zeroed windows by their length (half-hours); flat lines by mode only.
BANDS: dict[str, tuple[str, tuple[float, ...]]] = {
    InjectedAnomaly.METER_FAULT_SPIKE.value: ("excess", (0.8, 1.5, 3.0, np.inf)),
    InjectedAnomaly.NIGHT_USAGE.value: ("excess", (0.2, 0.4, 0.7, 1.0, np.inf)),
    InjectedAnomaly.WEEKEND_DAYTIME_SURGE.value: ("excess", (0.3, 0.8, 1.5, 2.0, np.inf)),
    InjectedAnomaly.FLAT_LINE.value: ("half_hours", (0, np.inf)),
    InjectedAnomaly.SCALED_DOWN.value: ("factor", (0.0, 0.2, 0.3, 0.4, 0.5)),
    InjectedAnomaly.ZEROED_WINDOW.value: ("half_hours", (12, 18, 25)),
}
#: The replaced readings' mean level (kWh): a night raise on a storage-heater meter replaces high ones.
REPLACED_BANDS = (0.0, 0.1, 0.3, 0.6, np.inf)


def seeds(text: str) -> list[int]:
    """``1-5`` or ``1,3,7``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",") if s]


def as_readings(meters: list[MeterSeries]) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"meter_id": m.meter_id, "timestamp": m.stamps, "energy_kwh": m.energy}) for m in meters],
        ignore_index=True,
    )


def in_span(readings: pd.DataFrame, first: date | None, days: int | None) -> pd.DataFrame:
    """The readings of the London days a ``smartmeter run --days N`` would stream (all: None)."""
    if days is None:
        return readings
    day = pd.to_datetime(london_day(readings["timestamp"]))
    start = pd.Timestamp(first) if first else day.min()
    return readings[(day >= start) & (day < start + pd.Timedelta(days=days))]


def run_seed(
    source: Path, seed: int | None, first: date | None, days: int | None, injection: InjectionSpec | None = None
) -> dict[str, object]:
    """Inject ``seed`` (None: nothing) into the folder's meters, judge, score.

    ``injection``: how events are drawn (lasting, how many per kind); its seed and span are these.
    """
    meters = _meter_series(_read_blocks(source))
    if seed is None:
        truth = pd.DataFrame({"meter_id": [], "timestamp": pd.Series(dtype="datetime64[ns]"), "kind": []})
    else:
        spec = replace(injection or InjectionSpec(), seed=seed, first_day=first, days=days)
        truth = plan_and_apply(meters, spec)
    readings = in_span(as_readings(meters), first, days)
    started = time.perf_counter()
    judged = meter_day_detector.judge(readings)
    seconds = time.perf_counter() - started
    meter_days = readings.assign(day=london_day(readings["timestamp"]))[["meter_id", "day"]].drop_duplicates()
    day_set = set(meter_days["day"])
    scores = scoring.score_alerts(truth, judged.alerts, len(meter_days), day_set)
    events = scoring.truth_events(truth)
    found_days = events.merge(judged.alerts[["meter_id", "day"]].astype(object), on=["meter_id", "day"])
    return {
        "seed": seed,
        "scores": scores,
        "events": events.assign(found=events["event"].isin(set(found_days["event"]))),
        "details": _found_details(truth, judged.alerts, day_set),
        "alerts": judged.alerts,
        "meter_days": len(meter_days),
        "seconds": seconds,
    }


def _found_details(truth: pd.DataFrame, alerts: pd.DataFrame, days: set[date]) -> pd.DataFrame:
    """The injector's description of each event in ``days``, with whether an alert fell on a day it touches.

    The benchmark's own view of the injection (the detector never sees it): how the event was
    made and how large it was, to say where the misses are.
    """
    if truth.empty:
        return pd.DataFrame(columns=["event", "kind", "mode", "excess", "factor", "half_hours", "found"])
    touched = truth.assign(day=london_day(truth["timestamp"]))[["event", "meter_id", "day"]].drop_duplicates()
    touched = touched[touched["day"].isin(days)]
    hits = touched.merge(alerts[["meter_id", "day"]].astype(object), on=["meter_id", "day"])
    details = event_details(truth)
    details = details[details["event"].isin(set(touched["event"]))]
    return details.assign(
        found=details["event"].isin(set(hits["event"])), replaced_level=details["level"] - details["excess"]
    )


def by_mode_and_band(runs: list[dict[str, object]]) -> pd.DataFrame:
    """Found / events per kind, split by how the injector made the event and by its size band."""
    details = pd.concat([r["details"].assign(seed=r["seed"]) for r in runs])  # type: ignore[union-attr]
    rows = []
    for kind, (column, edges) in BANDS.items():
        own = details[details["kind"] == kind]
        band = pd.cut(own[column], list(edges), right=False).astype(str)
        for (mode, label), group in own.groupby([own["mode"], band], observed=True):
            rows.append({"kind": kind, "mode": mode, "band": f"{column} {label}", "events": len(group),
                         "found": int(group["found"].sum())})  # fmt: skip
    table = pd.DataFrame(rows)
    table["recall"] = (table["found"] / table["events"]).round(2)
    return table


def by_replaced_level(runs: list[dict[str, object]], kinds: tuple[str, ...]) -> pd.DataFrame:
    """Found / events of ``kinds`` by the mean level of the readings they replaced and by mode."""
    details = pd.concat([r["details"].assign(seed=r["seed"]) for r in runs])  # type: ignore[union-attr]
    own = details[details["kind"].isin(kinds)]
    band = pd.cut(own["replaced_level"], list(REPLACED_BANDS), right=False).astype(str).rename("replaced_kwh")
    table = own.groupby([own["kind"], own["mode"], band], observed=True)["found"].agg(["size", "sum"])
    table = table.rename(columns={"size": "events", "sum": "found"}).reset_index()
    table["recall"] = (table["found"] / table["events"]).round(2)
    return table


def per_kind(runs: list[dict[str, object]], meters: set[str] | None = None) -> pd.DataFrame:
    """Found / events per kind over ``runs`` (only events on ``meters`` when given), and the alert figures."""
    rows = []
    for kind in KINDS:
        events = pd.concat([r["events"].assign(seed=r["seed"]) for r in runs])  # type: ignore[union-attr]
        own = events[events["kind"] == kind]
        if meters is not None:
            own = own[own["meter_id"].isin(meters)]
        per_event = own.groupby(["seed", "event"])["found"].any()
        rows.append({"kind": kind, "events": len(per_event), "found": int(per_event.sum())})
    table = pd.DataFrame(rows)
    table["recall"] = (table["found"] / table["events"]).round(3)
    return table


def overall(runs: list[dict[str, object]]) -> pd.DataFrame:
    rows = []
    for run in runs:
        total = next(s for s in run["scores"] if s.kind == scoring.OVERALL)  # type: ignore[union-attr]
        rows.append(
            {
                "seed": run["seed"],
                "recall": total.recall,
                "precision": total.precision,
                "alert_rate": total.alert_rate,
                "false_alert_rate": total.false_alert_rate,
                "flagged": total.flagged_meter_days,
                "meter_days": run["meter_days"],
                "judge_s": round(float(run["seconds"]), 1),  # type: ignore[arg-type]
            }
        )
    return pd.DataFrame(rows)


def labelled_precision(runs: list[dict[str, object]]) -> pd.DataFrame:
    rows = []
    for kind in KINDS:
        flagged = sum(next(s for s in r["scores"] if s.kind == kind).flagged_meter_days for r in runs)  # type: ignore[union-attr]
        right = sum(
            (next(s for s in r["scores"] if s.kind == kind).precision or 0.0)  # type: ignore[union-attr]
            * next(s for s in r["scores"] if s.kind == kind).flagged_meter_days  # type: ignore[union-attr]
            for r in runs
        )
        rows.append(
            {"kind": kind, "labelled": flagged, "label_precision": round(right / flagged, 3) if flagged else None}
        )
    return pd.DataFrame(rows)


def show(title: str, runs: list[dict[str, object]], meters: set[str] | None = None, breakdown: bool = False) -> None:
    if not runs:
        return
    print(f"== {title}")
    table = per_kind(runs, meters).merge(labelled_precision(runs), on="kind")
    print(table.to_string(index=False))
    figures = overall(runs)
    print(figures.to_string(index=False))
    flagged, meter_days = figures["flagged"].sum(), figures["meter_days"].sum()
    found, events = table["found"].sum(), table["events"].sum()
    precision = np.nansum(figures["precision"].fillna(0) * figures["flagged"]) / flagged if flagged else float("nan")
    print(
        f"pooled: recall {found}/{events} = {found / max(events, 1):.3f}, min per-kind recall "
        f"{table['recall'].min():.3f}, precision {precision:.3f}, alert rate {flagged / meter_days:.4%}"
    )
    details = pd.concat([r["details"] for r in runs])  # type: ignore[union-attr]
    injected = details.groupby("kind")["found"].agg(events="size", found="sum")
    if (injected["events"] != table.set_index("kind")["events"].reindex(injected.index)).any():
        # the scoring joins a kind's days on one meter that follow each other into one event; should
        # the injector's count differ (two of its events on days running), both counts are shown
        injected["recall"] = (injected["found"] / injected["events"]).round(3)
        print("-- by the injector's events (one event over several days is one):")
        print(injected.reset_index().to_string(index=False))
    if breakdown:
        print("-- by how the event was made and its size")
        print(by_mode_and_band(runs).to_string(index=False))
        weak = (InjectedAnomaly.NIGHT_USAGE.value, InjectedAnomaly.WEEKEND_DAYTIME_SURGE.value)
        print("-- night and surge events by the level of the readings they replaced")
        print(by_replaced_level(runs, weak).to_string(index=False))
    print()


def calibrate(source: Path, first: date | None, days: int | None) -> None:
    """Each evidence's value on the folder's meters with nothing injected, at the top shares of meter-days.

    A threshold at the ``1 - share`` quantile spends ``share`` of the alert budget on the meters'
    own oddities; :data:`~smartmeter_assets.reports.meter_day_detector.THRESHOLDS` are set from these.
    """
    readings = in_span(as_readings(_meter_series(_read_blocks(source))), first, days)
    features = meter_day_detector.daily_features(readings).sort_values(["meter_id", "day"]).reset_index(drop=True)
    parts = meter_day_detector.score_components(features)
    shares = (0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005)
    table = pd.DataFrame(
        {name: np.quantile(parts[name].fillna(-np.inf), [1 - s for s in shares]) for name in parts.columns},
        index=[f"top {s:.2%}" for s in shares],
    ).T
    table["threshold"] = [meter_day_detector.THRESHOLDS[name] for name in table.index]
    table["share_above"] = [(parts[name] >= meter_day_detector.THRESHOLDS[name]).mean() for name in table.index]
    print(f"== evidence with nothing injected, {len(features)} meter-days")
    print(table.round(3).to_string())
    print()


def first_days(text: str) -> list[date]:
    """``2013-01-01,2013-05-01``: the first London day of each window judged."""
    return [date.fromisoformat(day) for day in text.split(",") if day]


def evaluate(args: argparse.Namespace, first: date | None) -> dict[str, object]:
    """Everything the options ask for over one window (``first`` and ``--days``); its summary row."""
    span = (first, args.days)
    row: dict[str, object] = {"first_day": first or "start"}
    if args.calibrate:
        calibrate(args.data_dir, *span)
    if args.clean:
        clean = run_seed(args.data_dir, None, *span)
        alerts = clean["alerts"]
        print(
            f"== nothing injected: {len(alerts)} alerts on {clean['meter_days']} meter-days "
            f"({len(alerts) / clean['meter_days']:.3%}), by kind {alerts['kind'].value_counts().to_dict()}"
        )
        print()
        row["clean_alert_rate"] = round(len(alerts) / clean["meter_days"], 5)  # type: ignore[operator]
    injection = InjectionSpec(lasting=args.lasting, events_per_kind=args.events_per_kind)
    tuned = [run_seed(args.data_dir, seed, *span, injection) for seed in args.tune_seeds]
    show(f"tuning seeds {args.tune_seeds}", tuned, breakdown=args.breakdown)
    held = [run_seed(args.data_dir, seed, *span, injection) for seed in args.held_out_seeds]
    show(f"held-out seeds {args.held_out_seeds}", held, breakdown=args.breakdown)
    for name, runs in (("tune", tuned), ("held_out", held)):
        if not runs:
            continue
        table, figures = per_kind(runs), overall(runs)
        row[f"{name}_recall"] = round(table["found"].sum() / max(table["events"].sum(), 1), 3)
        row[f"{name}_min_kind"] = table["recall"].min()
        row[f"{name}_alert_rate"] = round(figures["flagged"].sum() / figures["meter_days"].sum(), 5)
        if name == "held_out":  # and each kind's recall: the figure the goal is judged on
            row.update(
                {f"held_out_{kind}": recall for kind, recall in table[["kind", "recall"]].itertuples(index=False)}
            )
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/real-meters"))
    parser.add_argument("--tune-seeds", type=seeds, default=seeds("1-5"))
    parser.add_argument("--held-out-seeds", type=seeds, default=seeds("6-10"))
    parser.add_argument("--first-day", type=date.fromisoformat, default=None)
    parser.add_argument(
        "--first-days",
        type=first_days,
        default=None,
        help="several windows (comma-separated first days, with --days), then one summary row each",
    )
    parser.add_argument("--days", type=int, default=None, help="only the first N London days (as smartmeter run)")
    parser.add_argument(
        "--lasting", action="store_true", help="inject night use and surges that last (smartmeter inject --lasting)"
    )
    parser.add_argument(
        "--events-per-kind",
        type=int,
        default=None,
        help="events of each kind per seed (default: one per 1,000 meter-days, as smartmeter inject): "
        "a denser test set puts events of one kind on one meter within weeks of each other",
    )
    parser.add_argument("--clean", action="store_true", help="also judge the folder with nothing injected")
    parser.add_argument(
        "--calibrate", action="store_true", help="print each evidence's quantiles with nothing injected"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="recall per kind by how the event was made and its size"
    )
    args = parser.parse_args()
    if not args.data_dir.exists():
        print(f"{args.data_dir} does not exist: nothing to measure")
        return 1
    if args.first_days and args.days is None:
        parser.error("--first-days needs --days: each window is N days from its first day")
    windows = args.first_days or [args.first_day]
    rows = []
    for first in windows:
        if len(windows) > 1:
            print(f"######## window from {first}, {args.days} days")
        rows.append(evaluate(args, first))
    if len(rows) > 1:
        print("== every window (rates and recalls as fractions)")
        print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    run_entry_point(main)
