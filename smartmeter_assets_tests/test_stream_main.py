"""``python -m smartmeter_assets.stream`` as Dagster launches it: Pipes messages, and a failing exit.

The Pipes test runs the job through Dagster's own ``PipesSubprocessClient`` inside a real
``materialize`` call, so the batch dicts are read back the way the Dagster side will read them.
(No ``from __future__ import annotations`` here: Dagster reads the ``context`` annotation as a type.)
"""

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetExecutionContext, MaterializeResult, PipesSubprocessClient, asset, materialize

from smartmeter_assets.lake.progress import read_progress
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.progress import BATCH_KEYS
from smartmeter_assets.testbed.stream_kill import job_environment
from smartmeter_assets.testbed.stream_readings import ensure_topic, publish

COMMAND = [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"]


def test_the_job_exits_non_zero_when_it_cannot_start(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)  # embedded, but no broker runs for this home
    finished = subprocess.run(COMMAND, env=job_environment(settings), capture_output=True, timeout=120)
    assert finished.returncode == 1
    assert b"no embedded Kafka broker is running" in finished.stdout + finished.stderr


@pytest.mark.spark
@pytest.mark.kafka
def test_each_batch_and_the_totals_reach_dagster_through_pipes(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=f"pipes-{uuid.uuid4().hex[:8]}",
        spark_max_records_per_batch=1000,
        spark_driver_memory="1g",
    )
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 2400, 50, poison_every=600)
    messages: list[Any] = []

    @asset
    def smart_meter_stream(
        context: AssetExecutionContext, pipes_subprocess_client: PipesSubprocessClient
    ) -> MaterializeResult:
        invocation = pipes_subprocess_client.run(command=COMMAND, context=context, env=job_environment(settings))
        messages.extend(invocation.get_custom_messages())
        return invocation.get_materialize_result()

    result = materialize([smart_meter_stream], resources={"pipes_subprocess_client": PipesSubprocessClient()})
    assert result.success
    (totals,) = [m["totals"] for m in messages if "totals" in m]  # the only custom message
    assert len(messages) == 1
    batches = read_progress(Lake.from_settings(settings)).to_pylist()  # committed with each batch
    assert len(batches) >= 3 and totals["batches"] == len(batches)
    assert all(set(BATCH_KEYS) <= set(b) for b in batches)
    assert sorted(b["batch_id"] for b in batches) == list(range(len(batches)))
    assert totals["input_rows"] == published.messages == sum(b["input_rows"] for b in batches)
    assert totals["rejected_rows"] == published.poison
    assert totals["raw_rows_written"] == len(published.readings)
