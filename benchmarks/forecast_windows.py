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

``--breakdown`` says where a window's portfolio forecast loses before anyone changes the model:
MAPE and bias of the model and both baselines per 2-hour block of the London day, on working
days and weekends, and per day beside the day's temperature; then what hindsight could gain at
most, so an idea can be dropped before it is built: one multiplier for the whole holdout, one
per block, and the day's total known in advance (the shape kept).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from smartmeter_assets.contracts import UNKNOWN_ACORN_CATEGORY, WEATHER_HOURLY_FILE
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.reports import forecast
from smartmeter_assets.reports.london_time import london_slot, london_time
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


#: Half-hours per block of the day in the breakdown (2 hours: the evening peak is one or two blocks).
BREAKDOWN_BLOCK_SLOTS = 4
#: Multipliers tried in hindsight for the ceilings (the best of them is what a bias correction could reach).
HINDSIGHT_FACTORS = np.linspace(0.8, 1.2, 81)


_COMPARED = ("forecast", "seasonal_naive", "persistence")


def _errors(rows: pd.DataFrame) -> pd.Series:
    actual = rows["actual"]
    figures = {f"{column}_mape": np.mean(np.abs(rows[column] - actual) / actual) for column in _COMPARED}
    figures |= {
        f"{column}_bias": (rows[column] - actual).sum() / actual.sum() for column in ("forecast", "persistence")
    }
    return pd.Series(figures | {"half_hours": len(rows)})


def _best_factor_mape(actual: pd.Series, forecast_kwh: pd.Series) -> float:
    return min(float(np.mean(np.abs(forecast_kwh * factor - actual) / actual)) for factor in HINDSIGHT_FACTORS)


def breakdown(result: forecast.Backtest, series: pd.DataFrame) -> None:
    """Where the portfolio forecast loses in one window, and what hindsight corrections could gain at most."""
    rows = result.predictions[
        (result.predictions["acorn_category"] == forecast.PORTFOLIO) & (result.predictions["actual"] > 0)
    ].copy()
    local = london_time(rows["timestamp"])
    rows["block"] = (london_slot(local) // BREAKDOWN_BLOCK_SLOTS).map(
        lambda block: f"{block * BREAKDOWN_BLOCK_SLOTS // 2:02d}-{(block + 1) * BREAKDOWN_BLOCK_SLOTS // 2:02d}h"
    )
    rows["day_type"] = np.where(local.dt.dayofweek >= 5, "weekend", "working day")
    rows["day"] = local.dt.date
    temperature = series[series["acorn_category"] == forecast.PORTFOLIO].set_index("timestamp")["temperature"]
    rows["temperature"] = rows["timestamp"].map(temperature)
    for by in ("block", "day_type"):
        print(rows.groupby(by).apply(_errors, include_groups=False).round(3).to_string(), "\n")
    by_day = rows.groupby("day").apply(_errors, include_groups=False)
    by_day["temperature"] = rows.groupby("day")["temperature"].mean()
    by_day["demand_vs_persistence"] = rows.groupby("day")["actual"].sum() / rows.groupby("day")["persistence"].sum()
    print(by_day.round(3).to_string(), "\n")
    actual, predicted = rows["actual"], rows["forecast"]
    per_block = sum(
        _best_factor_mape(block["actual"], block["forecast"]) * len(block) for _, block in rows.groupby("block")
    ) / len(rows)
    day_total = rows.groupby("day")["actual"].transform("sum") / rows.groupby("day")["forecast"].transform("sum")
    print(
        f"hindsight ceilings (MAPE; the model has {np.mean(np.abs(predicted - actual) / actual):.4f}):\n"
        f"  one multiplier for the holdout    {_best_factor_mape(actual, predicted):.4f}\n"
        f"  one multiplier per block          {per_block:.4f}\n"
        f"  the day's total known in advance  {_best_factor_mape(actual, predicted * day_total):.4f}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/real-meters"))
    parser.add_argument("--starts", default="2013-01-01,2013-02-01,2013-06-01,2013-09-01")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument(
        "--breakdown", action="store_true", help="per window: where the portfolio loses, and hindsight ceilings"
    )
    args = parser.parse_args()
    if not args.data_dir.exists():
        print(f"{args.data_dir} does not exist: nothing to measure")
        return 1
    readings = readings_with_context(args.data_dir)
    rows = []
    for text in args.starts.split(","):
        started = time.perf_counter()
        series = window_series(readings, date.fromisoformat(text), args.days)
        result = forecast.backtest(series)
        if args.breakdown:
            print(f"== window from {text}, holdout {result.holdout[0]}..{result.holdout[1]}: portfolio")
            breakdown(result, series)
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
