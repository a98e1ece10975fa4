"""Day-ahead demand per ACORN category, half-hourly, backtested against a seasonal-naive baseline.

The target is the segment's mean kWh per reporting meter in each half-hour (the total divided by
the meters that reported): with a handful of households per category a meter joining or going
quiet would otherwise move the total more than the weather does. A total forecast is this times
the meter count, and since both forecasts are scaled by the same count, the MAPE of the mean is
the MAPE of the total.

Features for day D are the calendar (half-hour slot, weekday, weekend) and the weather of D
(temperature at the half-hour and its daily mean, humidity, wind). **The weather is the observed
weather, standing in for a day-ahead weather forecast** (the dataset holds no forecasts); real
skill will be lower by the error of the weather forecast. The segment's own recent load (same
slot yesterday, last week, 7- and 14-day means) was tried as features and made the sample's
backtest worse, not better: on a per-meter mean the calendar and the weather carry the signal and
the lags carry the noise; the one-week lag remains as the baseline. The model is fitted on the
log of the load (errors then count relatively, as the MAPE does) and its retransformation bias
is removed by a smearing factor (training demand / retransformed training fit).

Rolling origin: over the last ``holdout_days`` days, each day is forecast from a model fitted on
everything before it, refitted every ``refit_every_days`` days (1 = every day). The baseline is
seasonal-naive: the same half-hour one week earlier. MAPE is taken over half-hours with positive
demand; bias is sum(forecast - actual) / sum(actual).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from smartmeter_assets.contracts import RAW, UNKNOWN_ACORN_CATEGORY

SLOTS_PER_DAY = 48
HOLDOUT_DAYS = 31
REFIT_EVERY_DAYS = 7
#: Lags need a week; a model needs a few weeks more to learn anything.
MIN_TRAINING_DAYS = 21
FEATURES = (
    "category_code", "slot", "day_of_week", "is_weekend",
    "temperature", "daily_temperature", "humidity", "wind_speed",
)  # fmt: skip
#: OpenMP threads per fit. Dagster runs steps side by side and OpenMP spin-waits when its threads
#: outnumber free cores: on a busy 2-core machine one fit took 0.4 s alone and 15 s contended.
#: The models are small, so one thread is both fast and predictable.
MODEL_THREADS = 1
#: Added before the log so a half-hour of zero demand has a finite target.
LOG_OFFSET_KWH = 0.01


class NotEnoughHistoryError(ValueError):
    """Too few days in the lake for a held-out month and a model before it."""


def segment_series(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per category and on-grid half-hour: total kWh, reporting meters, kWh per meter, weather."""
    return connection.sql(
        f"""
        SELECT coalesce(acorn_category, '{UNKNOWN_ACORN_CATEGORY}') AS acorn_category, timestamp,
               sum(energy_kwh) AS total_kwh, count(DISTINCT meter_id) AS meters,
               sum(energy_kwh) / count(DISTINCT meter_id) AS kwh_per_meter,
               avg(temperature) AS temperature, avg(humidity) AS humidity, avg(wind_speed) AS wind_speed
        FROM {RAW.name}
        WHERE second(timestamp) = 0 AND minute(timestamp) IN (0, 30)
        GROUP BY ALL ORDER BY ALL
        """
    ).df()


def feature_frame(series: pd.DataFrame) -> pd.DataFrame:
    """A complete half-hour grid per category with calendar and weather features and the week lag."""
    start, end = series["timestamp"].min().normalize(), series["timestamp"].max().normalize()
    grid = pd.date_range(start, end + pd.Timedelta(days=1), freq="30min", inclusive="left")
    categories = sorted(series["acorn_category"].unique())
    frames = []
    for code, category in enumerate(categories):
        own = series[series["acorn_category"] == category].set_index("timestamp").reindex(grid)
        own["acorn_category"], own["category_code"] = category, code
        own["lag_7d"] = own["kwh_per_meter"].shift(7 * SLOTS_PER_DAY)
        own["daily_temperature"] = own["temperature"].groupby(grid.normalize()).transform("mean")
        frames.append(own)
    frame = pd.concat(frames).rename_axis("timestamp").reset_index()
    frame["day"] = frame["timestamp"].dt.normalize()
    frame["slot"] = frame["timestamp"].dt.hour * 2 + frame["timestamp"].dt.minute // 30
    frame["day_of_week"] = frame["timestamp"].dt.dayofweek
    frame["is_weekend"] = frame["day_of_week"] >= 5
    return frame


@dataclass(frozen=True)
class DemandModel:
    """Gradient boosting on log demand, with the smearing factor that undoes the log's bias."""

    regressor: HistGradientBoostingRegressor
    smearing: float

    @classmethod
    def fit(cls, train: pd.DataFrame) -> DemandModel:
        regressor = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
            categorical_features=[0], random_state=0,
        )  # fmt: skip
        features = train.loc[:, list(FEATURES)]
        with threadpool_limits(limits=MODEL_THREADS):
            regressor.fit(features, np.log(train["kwh_per_meter"] + LOG_OFFSET_KWH))
            fitted = np.exp(regressor.predict(features)) - LOG_OFFSET_KWH
        return cls(regressor, float(train["kwh_per_meter"].sum() / fitted.sum()))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with threadpool_limits(limits=MODEL_THREADS):
            raw = np.exp(self.regressor.predict(frame.loc[:, list(FEATURES)])) - LOG_OFFSET_KWH
        return np.maximum(raw * self.smearing, 0.0)


@dataclass(frozen=True)
class Backtest:
    predictions: pd.DataFrame  # acorn_category, timestamp, actual, forecast, naive, meters
    metrics: pd.DataFrame  # per category and overall: mape, naive_mape, bias, naive_bias, skill
    holdout: tuple[date, date]

    def summary(self) -> dict[str, Any]:
        overall = self.metrics.set_index("acorn_category").loc["overall"]
        return {
            "holdout": [self.holdout[0].isoformat(), self.holdout[1].isoformat()],
            "mape": round(float(overall["mape"]), 4),
            "naive_mape": round(float(overall["naive_mape"]), 4),
            "mape_reduction": round(float(overall["mape_reduction"]), 4),
            "bias": round(float(overall["bias"]), 4),
            "naive_bias": round(float(overall["naive_bias"]), 4),
            "per_category": {
                r.acorn_category: {"mape": round(float(r.mape), 4), "naive_mape": round(float(r.naive_mape), 4)}
                for r in self.metrics.itertuples()
                if r.acorn_category != "overall"
            },
            "weather": "observed weather stands in for a day-ahead weather forecast",
            "target": "kWh per reporting meter of the category, half-hourly",
        }


def error_metrics(actual: pd.Series, forecast: pd.Series) -> tuple[float, float]:
    """MAPE over half-hours with positive demand, and bias as a share of actual demand."""
    usable = actual.notna() & forecast.notna() & (actual > 0)
    a, f = actual[usable], forecast[usable]
    if a.empty:
        return float("nan"), float("nan")
    return float(np.mean(np.abs(f - a) / a)), float((f - a).sum() / a.sum())


def backtest(
    series: pd.DataFrame, holdout_days: int = HOLDOUT_DAYS, refit_every_days: int = REFIT_EVERY_DAYS
) -> Backtest:
    frame = feature_frame(series)
    days = sorted(frame["day"].unique())
    if len(days) < holdout_days + MIN_TRAINING_DAYS:
        raise NotEnoughHistoryError(
            f"the lake holds {len(days)} days; a {holdout_days}-day backtest needs at least "
            f"{holdout_days + MIN_TRAINING_DAYS} (a model needs {MIN_TRAINING_DAYS} days before it)"
        )
    test_days = days[-holdout_days:]
    predictions = []
    model: DemandModel | None = None
    for index, day in enumerate(test_days):
        if model is None or index % refit_every_days == 0:
            model = DemandModel.fit(frame[(frame["day"] < day) & frame["kwh_per_meter"].notna()])
        target = frame[frame["day"] == day]
        predictions.append(
            pd.DataFrame(
                {
                    "acorn_category": target["acorn_category"],
                    "timestamp": target["timestamp"],
                    "actual": target["kwh_per_meter"],
                    "forecast": model.predict(target),
                    "naive": target["lag_7d"],
                    "meters": target["meters"],
                }
            )
        )
    predicted = pd.concat(predictions, ignore_index=True)
    rows = []
    groups = [*predicted.groupby("acorn_category"), ("overall", predicted)]
    for category, rows_of in groups:
        mape, bias = error_metrics(rows_of["actual"], rows_of["forecast"])
        naive_mape, naive_bias = error_metrics(rows_of["actual"], rows_of["naive"])
        rows.append(
            {
                "acorn_category": category,
                "mape": mape,
                "naive_mape": naive_mape,
                "mape_reduction": 1 - mape / naive_mape if naive_mape else float("nan"),
                "bias": bias,
                "naive_bias": naive_bias,
            }
        )
    holdout = (pd.Timestamp(test_days[0]).date(), pd.Timestamp(test_days[-1]).date())
    return Backtest(predicted, pd.DataFrame(rows), holdout)


def forecast_figure(result: Backtest, last_days: int = 7) -> Figure:
    """The last week of the backtest per category: actual, forecast and seasonal-naive totals."""
    categories = sorted(result.predictions["acorn_category"].unique())
    figure = Figure(figsize=(12, 2.6 * len(categories)))
    axes_list = np.atleast_1d(figure.subplots(len(categories), 1, sharex=True))
    since = pd.Timestamp(result.holdout[1] - timedelta(days=last_days - 1))
    for axes, category in zip(axes_list, categories, strict=True):
        rows = result.predictions[
            (result.predictions["acorn_category"] == category) & (result.predictions["timestamp"] >= since)
        ]
        for column, style in (("actual", "k-"), ("forecast", "C0-"), ("naive", "C1--")):
            axes.plot(rows["timestamp"], rows[column] * rows["meters"], style, label=column, linewidth=1)
        axes.set_title(f"{category}: total kWh per half-hour", fontsize="small")
        axes.legend(fontsize="x-small", loc="upper left")
    figure.autofmt_xdate()
    return figure
