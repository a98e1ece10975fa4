"""``smartmeter report``: the headline numbers of every report and where its plot is.

It prints what the report assets last wrote under ``<lake>/reports/`` (their JSON summaries), so
it is instant and shows exactly what Dagster computed. Exit code 0 when every report is there,
1 when some have not been materialized yet (and says which, and how to make them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from smartmeter_assets.contracts import REPORTS_DIR, InjectedAnomaly
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.report_files import read_summary
from smartmeter_assets.reports.scoring import OVERALL
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
    for detector, label in (("rules", "fixed rules"), ("profile", "profile detector")):
        parts = [
            f"{kind} P {_num(score['precision'], 2)} R {_num(score['recall'], 2)} F1 {_num(score['f1'], 2)}"
            for kind, score in sorted(s[detector].items(), key=lambda item: _KIND_ORDER.index(item[0]))
        ]
        lines.append(f"{label}: " + "; ".join(parts))
    return lines


_KIND_ORDER = [*(kind.value for kind in InjectedAnomaly), OVERALL]


def _forecast(s: dict[str, Any]) -> list[str]:
    return [
        f"backtest {s['holdout'][0]}..{s['holdout'][1]}: MAPE {_pct(s['mape'])} vs seasonal-naive "
        f"{_pct(s['naive_mape'])} ({_pct(s['mape_reduction'])} lower); bias {_pct(s['bias'])} "
        f"(naive {_pct(s['naive_bias'])})",
        f"({s['weather']})",
    ]


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
            "profile_anomalies over the days in the lake, after the stream has landed data)",
            file=out,
        )
        return 1
    return 0
