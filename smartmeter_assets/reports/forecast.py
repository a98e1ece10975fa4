"""Day-ahead half-hourly demand per ACORN category and for the portfolio, backtested against two baselines.

The target is a level's mean kWh per reporting meter in each half-hour (the total divided by the
meters that reported): with a handful of households a meter joining or going quiet would
otherwise move the total more than the weather does. A total forecast is this times the meter
count, so the MAPE of the mean is the MAPE of the total. The levels are each ACORN category and
the whole portfolio.

Baselines, as a utility would set them (BuildingsBench's simple baselines):
- **seasonal-naive**: the same half-hour one week earlier;
- **persistence ensemble**: the mean of the same half-hour over the previous seven days.

The model starts from the persistence ensemble and learns how far to move away from it: a
gradient-boosted model of the ratio actual / ensemble, from the London clock (half-hour, weekday),
the weather (temperature at the half-hour, and how much warmer or colder it is than over the
ensemble's week) and the level's own recent load relative to the ensemble (yesterday, a week
ago, the seven-day median, a fortnight's mean, yesterday's daily level, the mean of the last four
days of the same type: working day or weekend). The loss is the
**MAPE itself**: the absolute error of the ratio weighted by ensemble / actual, which is exactly
|forecast - actual| / actual; a MAPE-optimal forecast sits at a (weighted) median, so it runs a
little low on average, and its bias is reported beside it.

**The weather is the observed weather, standing in for a day-ahead weather forecast** (the
dataset holds no forecasts); real skill will be lower by the error of the weather forecast.

Rolling origin: over the last ``holdout_days`` days, each day is forecast from the level's own
model fitted on everything before it, refitted every ``refit_every_days`` days. MAPE is taken over half-hours
with positive demand; NRMSE is the RMSE over the mean actual demand; bias is
sum(forecast - actual) / sum(actual).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartmeter_assets.contracts import RAW, UNKNOWN_ACORN_CATEGORY
from smartmeter_assets.reports.london_time import london_slot, london_time

if TYPE_CHECKING:  # imported where a model is fitted: scikit-learn (with SciPy) takes ~1 s to import
    from sklearn.ensemble import HistGradientBoostingRegressor

SLOTS_PER_DAY = 48
ENSEMBLE_DAYS = 7
HOLDOUT_DAYS = 31
REFIT_EVERY_DAYS = 7
#: The ensemble needs a week of history; a model needs a few weeks more to learn anything.
MIN_TRAINING_DAYS = 21
PORTFOLIO = "portfolio"
#: The goal: MAPE this far below seasonal-naive's, for the portfolio and every category this big.
GOAL_MAPE_REDUCTION = 0.25
GOAL_MIN_METERS = 10
#: Days of the same type (working day or weekend) in the same-type mean, looked for in two weeks back.
SAME_TYPE_DAYS = 4
SAME_TYPE_LOOKBACK_DAYS = 14
RELATIVE_FEATURES = ("lag_1d", "lag_7d", "median_7d", "mean_14d", "daily_1d", "same_type_mean")
FEATURES = ("slot", "day_of_week", "temperature", "temperature_change", *RELATIVE_FEATURES)
#: OpenMP threads per fit. Dagster runs steps side by side and OpenMP spin-waits when its threads
#: outnumber free cores: on a busy 2-core machine one fit took 0.4 s alone and 15 s contended.
#: The models are small, so one thread is both fast and predictable.
MODEL_THREADS = 1
#: Demand below this (kWh per meter per half-hour) is not used as a MAPE weight's denominator.
MIN_WEIGHT_DEMAND_KWH = 0.005


class NotEnoughHistoryError(ValueError):
    """Too few days in the lake for a held-out month and a model before it."""

    def __init__(self, needed: int, has: int) -> None:
        super().__init__(f"not computed: needs {needed} days, has {has}")
        self.needed, self.has = needed, has


def segment_series(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per level (each category and the portfolio) and on-grid half-hour: kWh, meters, kWh per meter, weather.

    One pass over raw/, per category; the portfolio is their sum. raw/ holds a reading once per
    (meter_id, timestamp), so a half-hour's readings count its meters, and a meter is in one
    category at a time: the categories' meters add up to the portfolio's.
    """
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE category_half_hours AS
        SELECT coalesce(acorn_category, '{UNKNOWN_ACORN_CATEGORY}') AS acorn_category, timestamp,
               sum(energy_kwh) AS total_kwh, count(meter_id) AS meters,
               sum(temperature) AS temperature_sum, count(temperature) AS temperatures
        FROM {RAW.name}
        WHERE second(timestamp) = 0 AND minute(timestamp) IN (0, 30)
        GROUP BY ALL
        """
    )
    return connection.sql(
        f"""
        WITH levels AS (
            SELECT * FROM category_half_hours
            UNION ALL
            SELECT '{PORTFOLIO}', timestamp, sum(total_kwh), sum(meters), sum(temperature_sum), sum(temperatures)
            FROM category_half_hours GROUP BY timestamp
        )
        SELECT acorn_category, timestamp, total_kwh, meters::BIGINT AS meters,
               total_kwh / meters AS kwh_per_meter, temperature_sum / temperatures AS temperature
        FROM levels ORDER BY acorn_category = '{PORTFOLIO}', acorn_category, timestamp
        """
    ).df()


def _days_back(values: pd.Series, days: range) -> list[pd.Series]:
    return [values.shift(SLOTS_PER_DAY * d) for d in days]


def _same_type_mean(demand: pd.Series, weekend: pd.Series) -> pd.Series:
    """Mean of the same half-hour on the last :data:`SAME_TYPE_DAYS` days of the same type (weekend or not).

    The seven-day ensemble mixes five working days with two weekend days; a Saturday looks more
    like last Sunday than like Friday.
    """
    days = range(1, SAME_TYPE_LOOKBACK_DAYS + 1)
    lags = pd.concat(_days_back(demand, days), axis=1).to_numpy()
    kinds = pd.concat(_days_back(weekend.astype(float), days), axis=1).to_numpy()
    same = np.where(kinds == weekend.to_numpy(dtype=float)[:, None], lags, np.nan)
    taken = ~np.isnan(same) & (np.cumsum(~np.isnan(same), axis=1) <= SAME_TYPE_DAYS)
    count = taken.sum(axis=1)
    total = np.where(taken, same, 0.0).sum(axis=1)
    return pd.Series(np.where(count >= 2, total / np.maximum(count, 1), np.nan), index=demand.index)


def feature_frame(series: pd.DataFrame) -> pd.DataFrame:
    """A complete half-hour grid per level with the baselines and the model's features."""
    start, end = series["timestamp"].min().normalize(), series["timestamp"].max().normalize()
    grid = pd.date_range(start, end + pd.Timedelta(days=1), freq="30min", inclusive="left")
    frames = []
    for level, rows in series.groupby("acorn_category", sort=True):
        own = rows.set_index("timestamp").reindex(grid)
        own["acorn_category"] = level
        demand, temperature = own["kwh_per_meter"], own["temperature"]
        week = pd.concat(_days_back(demand, range(1, ENSEMBLE_DAYS + 1)), axis=1)
        own["seasonal_naive"] = demand.shift(SLOTS_PER_DAY * ENSEMBLE_DAYS)
        own["persistence"] = week.mean(axis=1, skipna=False)
        own["lag_1d"] = demand.shift(SLOTS_PER_DAY)
        own["lag_7d"] = own["seasonal_naive"]
        own["median_7d"] = week.median(axis=1, skipna=False)
        own["mean_14d"] = pd.concat(_days_back(demand, range(1, 15)), axis=1).mean(axis=1)
        own["daily_1d"] = own["lag_1d"].rolling(SLOTS_PER_DAY, min_periods=SLOTS_PER_DAY // 2).mean()
        weekend = pd.Series(london_time(pd.Series(grid)).dt.dayofweek.to_numpy() >= 5, index=grid)
        own["same_type_mean"] = _same_type_mean(demand, weekend)
        week_temperature = pd.concat(_days_back(temperature, range(1, ENSEMBLE_DAYS + 1)), axis=1).mean(axis=1)
        own["temperature_change"] = temperature - week_temperature
        frames.append(own)
    frame = pd.concat(frames).rename_axis("timestamp").reset_index()
    for column in RELATIVE_FEATURES:  # relative to the ensemble: the model learns ratios, any size of level
        frame[column] = frame[column] / frame["persistence"].where(frame["persistence"] > 0)
    local = london_time(frame["timestamp"])
    frame["day"] = frame["timestamp"].dt.normalize()
    frame["slot"] = london_slot(local)
    frame["day_of_week"] = local.dt.dayofweek
    return frame


@dataclass(frozen=True)
class DemandModel:
    """Gradient boosting of actual / persistence ensemble, fitted on the MAPE itself."""

    regressor: HistGradientBoostingRegressor

    @classmethod
    def fit(cls, train: pd.DataFrame) -> DemandModel:
        # Imported here, not with the module: every process that loads the definitions (the
        # command, the stream's run, each run of the daemon) would pay ~1 CPU-s for it, and only
        # the forecast fits a model.
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        regressor = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=100, learning_rate=0.05, max_leaf_nodes=15,
            min_samples_leaf=40, random_state=0,
        )  # fmt: skip
        ratio = train["kwh_per_meter"] / train["persistence"]
        weight = train["persistence"] / train["kwh_per_meter"].clip(lower=MIN_WEIGHT_DEMAND_KWH)
        with threadpool_limits(limits=MODEL_THREADS):
            regressor.fit(train.loc[:, list(FEATURES)], ratio, sample_weight=weight)
        return cls(regressor)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=MODEL_THREADS):
            ratio = self.regressor.predict(frame.loc[:, list(FEATURES)])
        return np.maximum(ratio * frame["persistence"].to_numpy(), 0.0)


def error_metrics(actual: pd.Series, forecast: pd.Series) -> dict[str, float]:
    """MAPE over half-hours with positive demand, NRMSE (over mean demand) and bias, as fractions."""
    usable = actual.notna() & forecast.notna() & (actual > 0)
    a, f = actual[usable], forecast[usable]
    if a.empty:
        return {"mape": float("nan"), "nrmse": float("nan"), "bias": float("nan")}
    return {
        "mape": float(np.mean(np.abs(f - a) / a)),
        "nrmse": float(np.sqrt(np.mean((f - a) ** 2)) / a.mean()),
        "bias": float((f - a).sum() / a.sum()),
    }


@dataclass(frozen=True)
class Backtest:
    predictions: pd.DataFrame  # acorn_category, timestamp, actual, forecast, seasonal_naive, persistence, meters
    metrics: pd.DataFrame  # per level: the model's and both baselines' errors, meters, goal
    holdout: tuple[date, date]

    def summary(self) -> dict[str, Any]:
        """Per level: MAPEs, NRMSEs, bias and whether the goal is met; fractions 0-1."""
        levels: dict[str, Any] = {}
        for row in self.metrics.itertuples():
            levels[row.acorn_category] = {
                "mape": round(float(row.mape), 4),
                "seasonal_naive_mape": round(float(row.seasonal_naive_mape), 4),
                "persistence_mape": round(float(row.persistence_mape), 4),
                "mape_reduction": round(float(row.mape_reduction), 4),
                "nrmse": round(float(row.nrmse), 4),
                "seasonal_naive_nrmse": round(float(row.seasonal_naive_nrmse), 4),
                "persistence_nrmse": round(float(row.persistence_nrmse), 4),
                "bias": round(float(row.bias), 4),
                "meters": int(row.meters),
                "goal_applies": bool(row.goal_applies),
                "goal_met": bool(row.goal_met),
            }
        return {
            "computed": True,
            "holdout": [self.holdout[0].isoformat(), self.holdout[1].isoformat()],
            "levels": levels,
            "goal": (
                f"MAPE >= {GOAL_MAPE_REDUCTION:.0%} below seasonal-naive for the portfolio and every "
                f"category with >= {GOAL_MIN_METERS} meters, never worse than the persistence ensemble"
            ),
            "weather": "observed weather stands in for a day-ahead weather forecast",
            "target": "kWh per reporting meter of the level, half-hourly",
        }


def not_computed(error: NotEnoughHistoryError) -> dict[str, Any]:
    """The summary of a forecast the lake cannot back-test yet: says why, fails nothing."""
    return {"computed": False, "reason": str(error), "needs_days": error.needed, "has_days": error.has}


def _level_metrics(level: str, rows: pd.DataFrame) -> dict[str, Any]:
    model = error_metrics(rows["actual"], rows["forecast"])
    naive = error_metrics(rows["actual"], rows["seasonal_naive"])
    persistence = error_metrics(rows["actual"], rows["persistence"])
    reduction = 1 - model["mape"] / naive["mape"] if naive["mape"] else float("nan")
    meters = int(np.nanmedian(rows["meters"])) if rows["meters"].notna().any() else 0
    applies = level == PORTFOLIO or meters >= GOAL_MIN_METERS
    return {
        "acorn_category": level,
        **model,
        "seasonal_naive_mape": naive["mape"],
        "persistence_mape": persistence["mape"],
        "seasonal_naive_nrmse": naive["nrmse"],
        "persistence_nrmse": persistence["nrmse"],
        "mape_reduction": reduction,
        "meters": meters,
        "goal_applies": applies,
        "goal_met": bool(reduction >= GOAL_MAPE_REDUCTION and model["mape"] <= persistence["mape"]),
    }


def backtest(
    series: pd.DataFrame, holdout_days: int = HOLDOUT_DAYS, refit_every_days: int = REFIT_EVERY_DAYS
) -> Backtest:
    frame = feature_frame(series)
    days = sorted(frame["day"].unique())
    needed = holdout_days + MIN_TRAINING_DAYS
    if len(days) < needed:
        raise NotEnoughHistoryError(needed, len(days))
    test_days = days[-holdout_days:]
    frame["trainable"] = frame["kwh_per_meter"].notna() & (frame["persistence"] > 0)
    predictions = []
    # one model per level: fitted together, a category of one or two noisy homes taught the
    # portfolio its corrections (on the real meters the portfolio's summer MAPE was 2 points worse)
    for _, own in frame.groupby("acorn_category", sort=True):
        model: DemandModel | None = None
        for index, day in enumerate(test_days):
            target = own[(own["day"] == day) & own["persistence"].notna()]
            if target.empty:  # the level did not report that day, or a week before it
                continue
            if model is None or index % refit_every_days == 0:
                model = DemandModel.fit(own[(own["day"] < day) & own["trainable"]])
            predictions.append(
                pd.DataFrame(
                    {
                        "acorn_category": target["acorn_category"],
                        "timestamp": target["timestamp"],
                        "actual": target["kwh_per_meter"],
                        "forecast": model.predict(target),
                        "seasonal_naive": target["seasonal_naive"],
                        "persistence": target["persistence"],
                        "meters": target["meters"],
                    }
                )
            )
    predicted = pd.concat(predictions, ignore_index=True)
    metrics = pd.DataFrame([_level_metrics(str(level), rows) for level, rows in predicted.groupby("acorn_category")])
    holdout = (pd.Timestamp(test_days[0]).date(), pd.Timestamp(test_days[-1]).date())
    return Backtest(predicted, metrics, holdout)


def forecast_figure(result: Backtest, last_days: int = 7) -> Figure:
    """The last week of the backtest per level: actual, forecast and both baselines' totals."""
    levels = sorted(result.predictions["acorn_category"].unique())
    figure = Figure(figsize=(12, 2.6 * len(levels)))
    axes_list = np.atleast_1d(figure.subplots(len(levels), 1, sharex=True))
    since = pd.Timestamp(result.holdout[1] - timedelta(days=last_days - 1))
    for axes, level in zip(axes_list, levels, strict=True):
        rows = result.predictions[
            (result.predictions["acorn_category"] == level) & (result.predictions["timestamp"] >= since)
        ]
        for column, style in (
            ("actual", "k-"),
            ("forecast", "C0-"),
            ("seasonal_naive", "C1--"),
            ("persistence", "C2:"),
        ):
            axes.plot(rows["timestamp"], rows[column] * rows["meters"], style, label=column, linewidth=1)
        axes.set_title(f"{level}: total kWh per half-hour", fontsize="small")
        axes.legend(fontsize="x-small", loc="upper left")
    figure.autofmt_xdate()
    return figure
