"""The embedded Dagster home: its instance config, and the environment its processes run Spark with.

Shared by ``smartmeter up`` (embedded.py) and ``smartmeter run`` (headless.py), so neither
imports the other's module for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from smartmeter_assets.settings import Settings

DAGSTER_YAML = """\
# Written by `smartmeter up` / `smartmeter run` for the embedded setup (SQLite storage here).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  # every pool (the publish's `kafka_publish`) admits one run at a time: the queue holds the next
  # publish (backfill, UI, replay) until the previous one ended, without taking a run slot
  pools:
    default_limit: 1
    granularity: run
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      # one stream per checkpoint, ever
      - key: smartmeter/stream
        value:
          applyLimitPerUniqueValue: true
        limit: 1
      # replayed days go out one at a time, in order
      - key: smartmeter/replay
        limit: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 10
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return home


def spark_environment() -> dict[str, str]:
    """Spark's Python workers must run this interpreter (the project is installed in it)."""
    return {
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "PYSPARK_DRIVER_PYTHON": os.environ.get("PYSPARK_DRIVER_PYTHON", sys.executable),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
    }
