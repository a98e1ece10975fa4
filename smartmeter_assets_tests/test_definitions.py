"""The code location loads as Dagster loads it, and the asset graph runs from the CSVs to the reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.reports.run import ALERTS_KEY, REPORT_KEYS, split_beside_detector
from smartmeter_assets.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def test_dagster_validates_the_workspace() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_lineage_runs_from_the_sources_to_the_lake_and_the_reports(tmp_path: Path) -> None:
    graph = build_definitions(Settings(home=tmp_path)).resolve_asset_graph()

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [AssetKey(key)]
        while todo:
            for parent in graph.get(todo.pop()).parent_keys:
                if parent.to_user_string() not in seen:
                    seen.add(parent.to_user_string())
                    todo.append(parent)
        return seen

    sources = {"households", "weather_hourly", "weather_daily", "readings"}
    for lake_table in ("lake_raw", "lake_aggregated", "lake_anomalies", "lake_rejected"):
        assert {"smart_meter_topic", "enriched_readings", *sources} <= upstream(lake_table)
    assert "lake_raw" in upstream("demand_forecast")


def test_jobs_sensors_and_resources_come_from_one_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, stream_query_name="q1", replay_interval_seconds=7)
    defs = build_definitions(settings)
    assert defs.resolve_job_def("smart_meter_stream").tags["smartmeter/stream"] == "q1"
    assert defs.resolve_sensor_def("replay_clock").minimum_interval_seconds == 7
    assert defs.resolve_sensor_def("smart_meter_stream_sensor") is not None
    stream_env = defs.resources["stream"].settings_env  # type: ignore[union-attr]
    assert stream_env["SMARTMETER_STREAM_QUERY_NAME"] == "q1"
    assert stream_env["SMARTMETER_HOME"] == str(tmp_path.resolve())


def test_smartmeter_run_makes_every_report_once_and_the_detectors_dependents_after_it(tmp_path: Path) -> None:
    """The reports that read the alerts run in the detector's process, after it; each report in one place."""
    defs = build_definitions(Settings(home=tmp_path))
    split = split_beside_detector(defs)
    assert {AssetKey("anomaly_quality"), AssetKey("demand_forecast")} <= split.beside
    assert not (split.beside & split.parent or split.beside & split.after or split.parent & split.after)
    assert split.beside | split.parent | split.after == REPORT_KEYS - {ALERTS_KEY}
    graph = defs.resolve_asset_graph()
    for key in split.beside:  # nothing made beside the detector reads what the parent makes meanwhile
        assert not graph.get(key).parent_keys & split.parent
