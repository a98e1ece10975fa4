"""The goals of issue 8 as asset checks, evaluated inside the runs that compute the figures.

Each check is a spec attached to its asset plus a pure function turning the asset's summary into
an ``AssetCheckResult``: the numbers are checked where they are computed, so a check can never
read a stale report. Missing a goal is a WARN, not an ERROR: the report is still true.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec

ANOMALY_GOAL = 0.9  # precision and recall of the profile detector on injected anomalies
FORECAST_GOAL = 0.3  # MAPE at least 30% below seasonal-naive

PROFILE_DETECTOR_GOAL = AssetCheckSpec(
    "profile_detector_meets_goal",
    asset="anomaly_quality",
    description=f"The profile detector's overall precision and recall are both >= {ANOMALY_GOAL}.",
)
FORECAST_SKILL_GOAL = AssetCheckSpec(
    "forecast_beats_seasonal_naive",
    asset="demand_forecast",
    description=f"Backtest MAPE is at least {FORECAST_GOAL:.0%} lower than seasonal-naive's.",
)
HEATING_SLOPE_SIGN = AssetCheckSpec(
    "heating_slope_positive",
    asset="weather_sensitivity",
    description="Every segment that saw days below its balance point uses more energy when colder.",
)


def profile_detector_result(overall: dict[str, Any] | None) -> AssetCheckResult:
    if overall is None:
        return AssetCheckResult(
            check_name=PROFILE_DETECTOR_GOAL.name,
            passed=True,
            severity=AssetCheckSeverity.WARN,
            description="No ground truth with this data (real files): the detector is not scored.",
            metadata={"scored": False},
        )
    precision, recall = overall["precision"], overall["recall"]
    passed = precision is not None and recall is not None and min(precision, recall) >= ANOMALY_GOAL
    return AssetCheckResult(
        check_name=PROFILE_DETECTOR_GOAL.name,
        passed=bool(passed),
        severity=AssetCheckSeverity.WARN,
        metadata={"precision": precision or 0.0, "recall": recall or 0.0, "goal": ANOMALY_GOAL, "scored": True},
    )


def forecast_skill_result(summary: dict[str, Any]) -> AssetCheckResult:
    reduction = summary["mape_reduction"]
    return AssetCheckResult(
        check_name=FORECAST_SKILL_GOAL.name,
        passed=bool(reduction is not None and reduction >= FORECAST_GOAL),
        severity=AssetCheckSeverity.WARN,
        metadata={
            "mape": summary["mape"],
            "naive_mape": summary["naive_mape"],
            "mape_reduction": reduction,
            "goal": FORECAST_GOAL,
        },
    )


def heating_slope_result(fits: dict[str, dict[str, Any]]) -> AssetCheckResult:
    fitted = {name: fit for name, fit in fits.items() if fit["heating_slope_kwh_per_degree"] is not None}
    wrong = sorted(name for name, fit in fitted.items() if fit["heating_slope_kwh_per_degree"] <= 0)
    return AssetCheckResult(
        check_name=HEATING_SLOPE_SIGN.name,
        passed=not wrong,
        severity=AssetCheckSeverity.WARN,
        description=f"non-positive heating slope: {', '.join(wrong)}" if wrong else None,
        metadata={"segments_fitted": len(fitted), "non_positive": wrong},
    )
