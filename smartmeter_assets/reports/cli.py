"""``smartmeter report [--json]``: the headline numbers of every report and where its plot is.

It prints what the report assets last wrote under ``<lake>/reports/`` (their JSON summaries), so
it is instant and shows exactly what Dagster computed. Exit code 0 when every report is there,
1 when some have not been materialized yet (and says which, and how to make them). A report that
ran but could not compute (too little history, no ground truth) is there: it says why.

``--json`` prints one JSON object: ``anomaly_quality`` (``detector`` and ``fixed_rules``: per kind
events, found, recall; overall precision and alert rate) and ``forecast`` (per level: mape,
seasonal_naive_mape, persistence_mape, nrmse), rates as fractions 0-1, null with a ``reason``
where not computed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from smartmeter_assets.contracts import REPORTS_DIR, InjectedAnomaly
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.forecast import PORTFOLIO
from smartmeter_assets.reports.report_files import read_summary
from smartmeter_assets.settings import Settings

REPORTS = (
    "demand_by_segment",
    "peak_demand",
    "weather_sensitivity",
    "anomaly_summary",
    "anomaly_quality",
    "demand_forecast",
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _segments(s: dict[str, Any]) -> list[str]:
    per = ", ".join(f"{k} {v:.2f}" for k, v in s["kwh_per_meter_day"].items())
    return [
        f"{s['total_kwh']:.1f} kWh in {s['readings']} readings over {s['days']} days, {s['segments']} segments",
        f"kWh per meter-day: {per}",
    ]


def _peaks(s: dict[str, Any]) -> list[str]:
    shares = ", ".join(f"{k} {_pct(v)}" for k, v in s["evening_share"].items())
    shifts = ", ".join(
        f"{k} {'n/a' if v is None else f'{v:+.1f} pts'}" for k, v in s["tou_minus_std_evening_share_points"].items()
    )
    return [f"evening-peak (17-21) share: {shares}", f"ToU minus Std evening share: {shifts}"]


def _weather(s: dict[str, Any]) -> list[str]:
    return [
        f"{segment}: heating slope {_num(fit['heating_slope_kwh_per_degree'])} kWh/meter-day per °C "
        f"below {_num(fit['balance_point_c'], 1)} °C (R² {_num(fit['r2'], 2)}), "
        f"corr humidity {_num(fit['humidity_corr'], 2)}, wind {_num(fit['wind_corr'], 2)}"
        for segment, fit in s.items()
    ]


def _anomalies(s: dict[str, Any]) -> list[str]:
    reasons = ", ".join(f"{k} {v}" for k, v in s["by_reason"].items()) or "none"
    persistent = ", ".join(s["persistent_meters"]) or "none"
    return [
        f"{s['flagged_readings']} flagged readings on {s['meters_flagged']} meters ({reasons})",
        f"persistently anomalous (>= {s['persistent_min_days']} days): {persistent}",
    ]


def _quality(s: dict[str, Any]) -> list[str]:
    if not s.get("scored"):
        return [f"not scored: {s.get('reason', 'no ground truth')}"]
    lines = []
    for detector, label in (("fixed_rules", "fixed rules"), ("detector", "meter-day detector")):
        scores = s[detector]
        kinds = "; ".join(
            f"{kind.value} {scores[kind.value]['found']}/{scores[kind.value]['events']}" for kind in InjectedAnomaly
        )
        lines.append(
            f"{label}: recall {_pct(scores['recall'])}, precision {_pct(scores['precision'])}, "
            f"alert rate {_pct(scores['alert_rate'])} of meter-days ({scores['flagged_meter_days']} flagged); "
            f"found per kind: {kinds}"
        )
    return lines


def _forecast(s: dict[str, Any]) -> list[str]:
    if not s.get("computed"):
        return [s["reason"]]
    lines = [f"backtest {s['holdout'][0]}..{s['holdout'][1]} ({s['weather']}):"]
    for level, m in sorted(s["levels"].items(), key=lambda item: item[0] != PORTFOLIO):
        goal = ("goal met" if m["goal_met"] else "goal missed") if m["goal_applies"] else "too few meters for the goal"
        lines.append(
            f"{level} ({m['meters']} meters): MAPE {_pct(m['mape'])} vs seasonal-naive "
            f"{_pct(m['seasonal_naive_mape'])} ({_pct(m['mape_reduction'])} lower), persistence "
            f"{_pct(m['persistence_mape'])}; NRMSE {_pct(m['nrmse'])}; bias {_pct(m['bias'])}; {goal}"
        )
    return lines


HEADLINES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "demand_by_segment": _segments,
    "peak_demand": _peaks,
    "weather_sensitivity": _weather,
    "anomaly_summary": _anomalies,
    "anomaly_quality": _quality,
    "demand_forecast": _forecast,
}


def print_report(settings: Settings, out: TextIO | None = None) -> int:
    """Print every report's headline numbers and plot path; 1 if any report is missing."""
    out = out or sys.stdout  # looked up at call time, so redirected output is honoured
    lake = Lake.from_settings(settings)
    missing = []
    for name in REPORTS:
        summary = read_summary(lake, name)
        if summary is None:
            missing.append(name)
            continue
        print(f"{name}:", file=out)
        for line in HEADLINES[name](summary):
            print(f"  {line}", file=out)
        print(f"  plot: {lake.url(REPORTS_DIR, name + '.png')}", file=out)
    if missing:
        print(
            f"not materialized yet: {', '.join(missing)} (materialize the 'reports' group, with "
            "meter_day_alerts over the days in the lake, after the stream has landed data)",
            file=out,
        )
        return 1
    return 0


def headline_json(settings: Settings) -> dict[str, Any]:
    """The ``--json`` object: anomaly quality and forecast headline numbers, null with a reason where absent."""
    lake = Lake.from_settings(settings)
    quality, forecast = read_summary(lake, "anomaly_quality"), read_summary(lake, "demand_forecast")
    headline: dict[str, Any] = {}
    if quality is None:
        headline["anomaly_quality"] = None
        headline["anomaly_quality_reason"] = "not materialized yet"
    elif not quality.get("scored"):
        headline["anomaly_quality"] = None
        headline["anomaly_quality_reason"] = quality.get("reason")
    else:
        headline["anomaly_quality"] = {"detector": quality["detector"], "fixed_rules": quality["fixed_rules"]}
    if forecast is None:
        headline["forecast"] = None
        headline["forecast_reason"] = "not materialized yet"
    elif not forecast.get("computed"):
        headline["forecast"] = None
        headline["forecast_reason"] = forecast["reason"]
    else:
        headline["forecast"] = {"holdout": forecast["holdout"], **forecast["levels"]}
    headline["missing_reports"] = [name for name in REPORTS if read_summary(lake, name) is None]
    return headline


def print_json(settings: Settings, out: TextIO | None = None) -> int:
    """Print :func:`headline_json` as one JSON object; 1 if any report is missing."""
    out = out or sys.stdout
    headline = headline_json(settings)
    print(json.dumps(headline, sort_keys=True), file=out)
    return 1 if headline["missing_reports"] else 0
