"""``smartmeter run``: the whole pipeline through the real Dagster APIs, on a persistent instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from smartmeter_assets.cli import main
from smartmeter_assets.dagster_home import prepare_dagster_home
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.reports.run import ALERTS_KEY
from smartmeter_assets.defs.stream.job import STREAM_TAG, build_stream_job
from smartmeter_assets.defs.stream.replay import PUBLISH_KEYS
from smartmeter_assets.headless import PipelineRunError, run_pipeline
from smartmeter_assets.settings import Settings
from smartmeter_assets_tests.conftest import SAMPLE_DIR


@pytest.mark.spark
def test_run_publishes_streams_checks_and_reports_and_the_numbers_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SAMPLE_DIR  # the committed sample: what `make run` runs on
    home = tmp_path / "home"
    monkeypatch.setenv("SMARTMETER_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    assert main(["run", "--data-dir", str(data), "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])  # the last line is the JSON summary
    assert summary["days"] == 84
    assert summary["published"] > 0 and summary["published"] == summary["raw"] + summary["rejected"]
    assert summary["checks_failed"] == 0 and summary["checks_passed"] >= 28
    assert summary["reports_failed"] == []
    # every check was counted once, those of the runs beside the detector's process too
    checks = build_definitions(Settings(home=home, data_dir=data)).resolve_asset_graph().asset_check_keys
    per_day = {key for key in checks if key.asset_key in PUBLISH_KEYS}
    counted = summary["checks_passed"] + summary["checks_warned"] + summary["checks_failed"]
    assert counted == len(checks) - len(per_day) + len(per_day) * summary["days"]
    assert summary["anomalies"] > 0 and summary["aggregated_windows"] > 0
    assert any(line.startswith("demand_forecast:") for line in out)

    # the history is in the persistent instance a later `make up` shows
    with DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        assert len(instance.get_run_records()) >= 84 + 4
        # the detector ran (in a process of its own) before anomaly_quality scored its alerts
        judged = instance.get_latest_materialization_event(ALERTS_KEY)
        scored = instance.get_latest_materialization_event(AssetKey("anomaly_quality"))
        assert judged is not None and scored is not None and judged.timestamp < scored.timestamp

    # a second run over the same lake republishes every day and nothing lands twice
    again = run_pipeline(Settings(home=home, data_dir=data), days=3, progress=False)
    assert again.raw == summary["raw"] and again.checks_failed == 0


def test_run_refuses_to_start_a_second_stream_on_the_same_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home", data_dir=SAMPLE_DIR)
    home = prepare_dagster_home(settings)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # run_pipeline sets it; monkeypatch restores it
    with DagsterInstance.from_config(str(home)) as instance:
        job = build_stream_job(settings.stream_query_name)
        instance.create_run_for_job(job_def=job, tags={STREAM_TAG: settings.stream_query_name})
    with pytest.raises(PipelineRunError, match="two streams must never share a checkpoint"):
        run_pipeline(settings, days=1, progress=False)


def test_the_detector_process_waits_for_its_start_and_never_outlives_a_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``smartmeter run`` starts the detector's process while the stream drains: it must not read
    the lake before :meth:`start` (raw/ is still growing), and a drain that fails stops it."""
    import time

    from smartmeter_assets.headless import DetectorAlongside

    settings = Settings(home=tmp_path / "home", data_dir=SAMPLE_DIR)
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(settings)))

    waiting = DetectorAlongside(settings)
    time.sleep(8)  # long enough to get ready (imports, definitions) and run, had it not waited
    assert waiting.process.poll() is None and not waiting.outcome_file.exists()
    waiting.start()
    outcome = waiting.outcome()  # an empty lake: the run has nothing to judge, and says so
    assert waiting.process.returncode == 0
    assert outcome.checks == [] and outcome.failed_steps == []
    assert not waiting.start_file.exists() and not waiting.outcome_file.exists()

    then = DetectorAlongside(settings, then=frozenset({AssetKey("demand_forecast")}))
    then.start()
    # the forecast's run after the detector's: on an empty lake it fails ("nothing to report"), and
    # that failure comes back to the parent as any report's would
    assert then.outcome().failed_steps == ["demand_forecast"]

    stopped = DetectorAlongside(settings)
    stopped.stop()  # never started: the drain failed
    assert stopped.process.returncode is not None and not stopped.start_file.exists()
