"""The Spark standalone cluster: a master and one worker, pyspark's own ``spark-class``.

The same commands as compose's ``spark-master`` and ``spark-worker`` services, bound to
127.0.0.1. The stream's driver stays in the Dagster run (client mode, ``SMARTMETER_SPARK_MASTER=
spark://127.0.0.1:7077``); the worker's executors run the Kafka read, the parse and the transforms.
``spark-class`` ends in ``exec java``, so each service's pid is its JVM (what ``kill -9`` hits).
Executors inherit the worker's AWS_* variables: they write the state store beside the s3a://
checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from smartmeter_assets.cluster.process import ManagedProcess, http_ok, port_open
from smartmeter_assets.cluster.topology import (
    HOST,
    SPARK_DAEMON_MEMORY,
    SPARK_MASTER_PORT,
    SPARK_MASTER_UI_PORT,
    SPARK_WORKER_UI_PORT,
    Layout,
    spark_master_url,
)

MASTER = "spark-master"
WORKER = "spark-worker"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_class(env: dict[str, str]) -> str:
    return str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")


def master(layout: Layout, env: dict[str, str]) -> ManagedProcess:
    command = [
        spark_class(env), MASTER_CLASS,
        "--host", HOST, "--port", str(SPARK_MASTER_PORT), "--webui-port", str(SPARK_MASTER_UI_PORT),
    ]  # fmt: skip
    return ManagedProcess(
        MASTER,
        command,
        {**env, "SPARK_DAEMON_MEMORY": SPARK_DAEMON_MEMORY},
        layout.logs,
        probe=lambda: port_open(HOST, SPARK_MASTER_PORT) and http_ok(f"http://{HOST}:{SPARK_MASTER_UI_PORT}/"),
    )


def worker_registered() -> bool:
    """The master lists an ALIVE worker (its JSON view): only then can it run executors."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{HOST}:{SPARK_MASTER_UI_PORT}/json/", timeout=2) as response:
            state = json.load(response)
    except (OSError, ValueError):
        return False
    return any(worker.get("state") == "ALIVE" for worker in state.get("workers", []))


def worker(layout: Layout, env: dict[str, str]) -> ManagedProcess:
    layout.spark_work.mkdir(parents=True, exist_ok=True)
    command = [
        spark_class(env), WORKER_CLASS, spark_master_url(),
        "--host", HOST, "--webui-port", str(SPARK_WORKER_UI_PORT),
        "--cores", env["SPARK_WORKER_CORES"], "--memory", env["SPARK_WORKER_MEMORY"],
        "--work-dir", str(layout.spark_work),
    ]  # fmt: skip
    return ManagedProcess(
        WORKER,
        command,
        {**env, "SPARK_DAEMON_MEMORY": SPARK_DAEMON_MEMORY, "SPARK_WORKER_DIR": str(layout.spark_work)},
        layout.logs,
        probe=lambda: http_ok(f"http://{HOST}:{SPARK_WORKER_UI_PORT}/") and worker_registered(),
    )
