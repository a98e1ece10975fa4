"""The Dagster instance configs, and the environment the embedded processes run Spark with.

One instance, written once: ``instance/base.yaml`` (run queue, pools, one stream per checkpoint,
run monitoring) is what every setup shares; ``instance/embedded.yaml`` is laid over it for the
embedded home of ``smartmeter up`` / ``smartmeter run`` (both use :func:`prepare_dagster_home`,
so neither imports the other's module for it), ``instance/production.yaml`` for the production
stack (Postgres storage, the code server's run launcher, logs on a shared volume). The
production file the image and the local cluster read, ``deploy/dagster.yaml``, is generated from
it (``python -m smartmeter_assets.dagster_home > deploy/dagster.yaml``); a test fails when the two
differ.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from dagster._core.instance.ref import InstanceRef

from smartmeter_assets.dagster_event_log import PooledSqliteEventLogStorage
from smartmeter_assets.settings import Settings

GENERATED_HEADER = (
    "# Generated from smartmeter_assets/instance/base.yaml + production.yaml (their comments say why):\n"
    "# edit those, then `python -m smartmeter_assets.dagster_home > deploy/dagster.yaml`.\n"
)


def _instance_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(files("smartmeter_assets").joinpath("instance", name).read_text())
    return loaded


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` laid over it: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        merged[key] = overlay(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def embedded_instance_config() -> dict[str, Any]:
    return overlay(_instance_file("base.yaml"), _instance_file("embedded.yaml"))


def production_instance_config() -> dict[str, Any]:
    return overlay(_instance_file("base.yaml"), _instance_file("production.yaml"))


def production_dagster_yaml() -> str:
    """The text of ``deploy/dagster.yaml``."""
    return GENERATED_HEADER + yaml.safe_dump(production_instance_config(), sort_keys=False)


def embedded_event_log_storage(home: Path) -> dict[str, Any]:
    """The embedded home's event log: Dagster's SQLite files in Dagster's default folder, connected faster.

    Written here, not in ``embedded.yaml``: the folder is under the home, and Dagster's config
    reads a whole value from the environment but cannot join it to a path. The config is
    Dagster's own default for the home (its folder), with our class, so a home written before
    keeps its history.
    """
    default = InstanceRef.config_defaults(str(home.resolve()))["event_log_storage"]
    return {
        "module": PooledSqliteEventLogStorage.__module__,
        "class": PooledSqliteEventLogStorage.__name__,
        "config": yaml.safe_load(default.config_yaml),
    }


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = {**embedded_instance_config(), "event_log_storage": embedded_event_log_storage(home)}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def spark_environment() -> dict[str, str]:
    """Spark's Python workers must run this interpreter (the project is installed in it)."""
    return {
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "PYSPARK_DRIVER_PYTHON": os.environ.get("PYSPARK_DRIVER_PYTHON", sys.executable),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
    }


if __name__ == "__main__":
    sys.stdout.write(production_dagster_yaml())
