"""The day-ahead forecast: its error measures, its inputs from the lake, and a backtest it must win."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports import forecast
from smartmeter_assets.reports.lake_query import lake_connection
from smartmeter_assets.testbed.landed_lake import reading, write_readings


def test_mape_skips_zero_demand_nrmse_and_bias_are_relative_to_demand() -> None:
    actual = pd.Series([1.0, 2.0, 0.0, 4.0])
    predicted = pd.Series([1.5, 2.0, 5.0, 3.0])
    errors = forecast.error_metrics(actual, predicted)
    assert errors["mape"] == pytest.approx((0.5 + 0.0 + 0.25) / 3)
    assert errors["bias"] == pytest.approx((0.5 + 0.0 - 1.0) / 7.0)
    assert errors["nrmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1) / 3) / (7 / 3))


def test_segment_series_is_per_reporting_meter_and_on_grid_only(report_lake: Lake) -> None:
    write_readings(
        report_lake,
        [
            reading("A1", "2013-01-07 00:00:00", 0.2, temperature=4.0),
            reading("A2", "2013-01-07 00:00:00", 0.4, temperature=4.0),
            reading("A1", "2013-01-07 12:37:27", 9.9),  # an off-grid stamp is no half-hour of demand
        ],
    )
    series = forecast.segment_series(lake_connection(report_lake))
    assert series[["acorn_category", "timestamp", "total_kwh", "meters"]].values.tolist() == [
        ["Affluent", pd.Timestamp("2013-01-07 00:00:00"), pytest.approx(0.6), 2],
        [forecast.PORTFOLIO, pd.Timestamp("2013-01-07 00:00:00"), pytest.approx(0.6), 2],
    ]
    assert series["kwh_per_meter"].tolist() == [pytest.approx(0.3)] * 2


def synthetic_series(days: int) -> pd.DataFrame:
    """Two segments whose load follows the half-hour and the day's temperature, which jumps around."""
    rng = np.random.default_rng(7)
    rows = []
    for d in range(days):
        temperature = float(rng.uniform(-2, 14))  # a cold snap does not repeat a week later
        for slot in range(48):
            when = datetime(2013, 1, 7) + timedelta(days=d, minutes=30 * slot)
            shape = 0.15 + (0.35 if 34 <= slot < 42 else 0.0) + (0.1 if 14 <= slot < 18 else 0.0)
            for category, size in (("Affluent", 1.4), ("Adversity", 0.8)):
                per_meter = size * (shape + 0.02 * (15 - temperature)) * (1 + rng.normal(0, 0.02))
                rows.append(
                    {
                        "acorn_category": category, "timestamp": pd.Timestamp(when), "total_kwh": per_meter * 10,
                        "meters": 10, "kwh_per_meter": per_meter, "temperature": temperature,
                        "humidity": 0.8, "wind_speed": 3.0,
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_backtest_beats_both_baselines_when_weather_drives_demand() -> None:
    series = synthetic_series(42)
    result = forecast.backtest(series, holdout_days=7, refit_every_days=7)
    assert result.holdout == (date(2013, 2, 11), date(2013, 2, 17))  # the last 7 of 42 days from 7 Jan
    assert len(result.predictions) == 7 * 48 * 2
    # the baselines are read straight off the input: a week ago, and the mean of the last seven days
    first = result.predictions.iloc[0]
    same_category = series[series["acorn_category"] == first["acorn_category"]].set_index("timestamp")
    week = [same_category.loc[first["timestamp"] - pd.Timedelta(days=d), "kwh_per_meter"] for d in range(1, 8)]
    assert first["seasonal_naive"] == pytest.approx(week[-1])
    assert first["persistence"] == pytest.approx(sum(week) / 7)
    metrics = result.metrics.set_index("acorn_category")
    for level in ("Affluent", "Adversity"):
        assert metrics.loc[level, "mape"] < 0.75 * metrics.loc[level, "seasonal_naive_mape"]
        assert metrics.loc[level, "mape"] < metrics.loc[level, "persistence_mape"]
    summary = result.summary()
    assert summary["computed"] and set(summary["levels"]) == {"Affluent", "Adversity"}
    affluent = summary["levels"]["Affluent"]
    assert affluent["meters"] == 10 and affluent["goal_applies"] and affluent["goal_met"]
    assert affluent["mape_reduction"] == pytest.approx(1 - affluent["mape"] / affluent["seasonal_naive_mape"], abs=1e-3)
    assert not any(math.isnan(v) for v in result.predictions["forecast"])


def test_backtest_says_how_much_history_it_needs() -> None:
    with pytest.raises(forecast.NotEnoughHistoryError, match="not computed: needs 28 days, has 20") as raised:
        forecast.backtest(synthetic_series(20), holdout_days=7)
    assert forecast.not_computed(raised.value) == {
        "computed": False, "reason": "not computed: needs 28 days, has 20", "needs_days": 28, "has_days": 20,
    }  # fmt: skip


def test_same_type_mean_is_read_off_the_last_days_of_the_same_type() -> None:
    series = synthetic_series(21)
    frame = forecast.feature_frame(series)
    row = frame[(frame["acorn_category"] == "Affluent") & (frame["timestamp"] == pd.Timestamp("2013-01-26 12:00"))]
    own = series[series["acorn_category"] == "Affluent"].set_index("timestamp")["kwh_per_meter"]
    # Saturday 26 January: the weekend days before it are 20, 19, 13 and 12 January
    weekend_days = [own[pd.Timestamp(f"2013-01-{day} 12:00")] for day in (20, 19, 13, 12)]
    persistence = row["persistence"].iloc[0]
    assert row["same_type_mean"].iloc[0] * persistence == pytest.approx(sum(weekend_days) / 4)


def test_each_level_is_forecast_by_its_own_model() -> None:
    """A tiny, noisy category beside the portfolio must not change the portfolio's forecast."""
    series = synthetic_series(42)
    portfolio = series[series["acorn_category"] == "Affluent"].assign(acorn_category=forecast.PORTFOLIO)
    rng = np.random.default_rng(3)
    noisy = portfolio.assign(acorn_category="ACORN-X", meters=1)
    noisy["kwh_per_meter"] = noisy["kwh_per_meter"] * rng.lognormal(0, 0.8, len(noisy))
    alone = forecast.backtest(portfolio, holdout_days=7).predictions
    beside = forecast.backtest(pd.concat([portfolio, noisy]), holdout_days=7).predictions
    beside = beside[beside["acorn_category"] == forecast.PORTFOLIO].reset_index(drop=True)
    assert np.allclose(alone["forecast"], beside["forecast"])
