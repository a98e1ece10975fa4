"""How Dagster launches the Spark stream job."""

from __future__ import annotations

import os
import sys

from dagster import ConfigurableResource

from smartmeter_assets.settings import Settings

STREAM_MODULE = "smartmeter_assets.stream"


class StreamResource(ConfigurableResource):
    """The stream job's command and environment (the one Settings, as SMARTMETER_* variables).

    The same command serves both setups: with ``SMARTMETER_SPARK_MASTER=local[2]`` the driver
    runs Spark in-process; with ``spark://spark-master:7077`` the same driver submits to the
    cluster in client mode (pyspark launches spark-submit under the hood).
    """

    query_name: str
    settings_env: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamResource:
        return cls(query_name=settings.stream_query_name, settings_env=settings.to_env())

    def command(self, *, available_now: bool, drain_file: str = "") -> list[str]:
        command = [sys.executable, "-m", STREAM_MODULE]
        if available_now:
            command.append("--available-now")
        if drain_file:
            command += ["--drain-file", drain_file]
        return command

    def env(self) -> dict[str, str]:
        env = {**self.settings_env}
        env.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", sys.executable))
        env.setdefault("PYSPARK_DRIVER_PYTHON", os.environ.get("PYSPARK_DRIVER_PYTHON", sys.executable))
        env.setdefault("SPARK_LOCAL_IP", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        return env
