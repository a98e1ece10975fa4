"""The day-ahead forecast on a Kaggle-format folder, over several 120-day windows of the year.

Why: ``smartmeter run --days 120`` backtests one window (the last 31 of the first 120 days); a
forecast that beats seasonal-naive in winter may not in summer, when demand is flat and noisy.
This builds each level's series straight from the folder's CSV files (the readers of
``smartmeter inject``; the hourly temperature of each reading's GMT hour, as the lake's
enrichment does), runs :func:`~smartmeter_assets.reports.forecast.backtest` per window and prints
MAPE, both baselines, the reduction against seasonal-naive and NRMSE for the portfolio and the
goal's verdict for every level::

    .venv/bin/python benchmarks/forecast_windows.py --data-dir /work/shared/real-meters \\
        --starts 2013-01-01,2013-02-01,2013-06-01,2013-09-01
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import pandas as pd

from smartmeter_assets.contracts import UNKNOWN_ACORN_CATEGORY, WEATHER_HOURLY_FILE
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.reports import forecast
from smartmeter_assets.sample_data.injection import _meter_series, _read_blocks
from smartmeter_assets.sources.households import read_households


def readings_with_context(source: Path) -> pd.DataFrame:
    meters = _meter_series(_read_blocks(source))
    readings = pd.concat(
        [pd.DataFrame({"meter_id": m.meter_id, "timestamp": m.stamps, "energy_kwh": m.energy}) for m in meters],
        ignore_index=True,
    )
    households = read_households(source).frame  # the category the lake carries: the ACORN group name
    category = households.set_index("meter_id")["acorn_category"]
    readings["acorn_category"] = readings["meter_id"].map(category).fillna(UNKNOWN_ACORN_CATEGORY)
    weather = pd.read_csv(source / WEATHER_HOURLY_FILE, parse_dates=["time"]).drop_duplicates("time")
    readings["temperature"] = readings["timestamp"].dt.floor("h").map(weather.set_index("time")["temperature"])
    return readings


def window_series(readings: pd.DataFrame, first: date, days: int) -> pd.DataFrame:
    """The segment series :func:`forecast.segment_series` would read from a lake of these days."""
    start = pd.Timestamp(first)
    span = readings[(readings["timestamp"] >= start) & (readings["timestamp"] < start + pd.Timedelta(days=days))]
    levels = [(forecast.PORTFOLIO, span), *span.groupby("acorn_category")]
    frames = []
    for label, rows in levels:
        level = (
            rows.groupby("timestamp")
            .agg(total_kwh=("energy_kwh", "sum"), meters=("meter_id", "nunique"), temperature=("temperature", "mean"))
            .reset_index()
        )
        level["kwh_per_meter"] = level["total_kwh"] / level["meters"]
        level["acorn_category"] = label
        frames.append(level)
    return pd.concat(frames, ignore_index=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/real-meters"))
    parser.add_argument("--starts", default="2013-01-01,2013-02-01,2013-06-01,2013-09-01")
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    if not args.data_dir.exists():
        print(f"{args.data_dir} does not exist: nothing to measure")
        return 1
    readings = readings_with_context(args.data_dir)
    rows = []
    for text in args.starts.split(","):
        started = time.perf_counter()
        result = forecast.backtest(window_series(readings, date.fromisoformat(text), args.days))
        levels = result.metrics.set_index("acorn_category")
        portfolio = levels.loc[forecast.PORTFOLIO]
        rows.append(
            {
                "window_from": text,
                "holdout": f"{result.holdout[0]}..{result.holdout[1]}",
                "meters": int(portfolio["meters"]),
                "mape": round(portfolio["mape"], 4),
                "seasonal_naive": round(portfolio["seasonal_naive_mape"], 4),
                "persistence": round(portfolio["persistence_mape"], 4),
                "reduction": round(portfolio["mape_reduction"], 4),
                "nrmse": round(portfolio["nrmse"], 4),
                "persistence_nrmse": round(portfolio["persistence_nrmse"], 4),
                "bias": round(portfolio["bias"], 4),
                "goal_met": bool(portfolio["goal_met"]),
                "levels_beating_persistence": f"{int((levels['mape'] <= levels['persistence_mape']).sum())}"
                f"/{len(levels)}",
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    print(f"goal: MAPE >= {forecast.GOAL_MAPE_REDUCTION:.0%} below seasonal-naive, never worse than persistence")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    run_entry_point(main)
