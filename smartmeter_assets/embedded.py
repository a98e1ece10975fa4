"""The embedded setup (``make up``): broker, Dagster webserver + daemon on 127.0.0.1, no Docker.

Everything started here is stopped here: on Ctrl-C (or SIGTERM) the whole process tree under
``dagster dev`` (run workers, the stream's Python driver and its Spark JVM) is snapshotted, asked
to stop, then killed if it lingers, and the broker goes last. The broker is Apache Kafka (one
KRaft node) keeping its log on disk under ``<home>/kafka/``, so a second ``make up`` finds the
topic and what was published to it, beside the lake, the Dagster history and the Spark
checkpoint: the stream resumes from its committed offsets and the replay goes on with the next day.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import psutil

from smartmeter_assets.dagster_home import prepare_dagster_home, spark_environment
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.settings import Settings

log = logging.getLogger(__name__)

#: In demo mode a replayed day every this many seconds, unless the user set an interval.
DEMO_REPLAY_INTERVAL_SECONDS = 10
STOP_GRACE_SECONDS = 20


def stop_tree(root: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> int:
    """Stop ``root`` and every process under it; returns how many had to be killed."""
    try:
        tree = [psutil.Process(root.pid), *psutil.Process(root.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    if root.poll() is None:
        root.send_signal(signal.SIGINT)  # dagster dev shuts its webserver, daemon and runs down
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for process in alive:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(alive, timeout=5)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


def stage_sources_once(settings: Settings, dagster_home: Path) -> None:
    """Materialize the sources before the UI opens (first start only), so the replay's first tick
    publishes a day instead of staging: data reaches the lake within the first minute."""
    from dagster import AssetKey, DagsterInstance

    from smartmeter_assets.definitions import build_definitions
    from smartmeter_assets.headless import materialize_sources

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        if instance.get_latest_materialization_event(AssetKey("readings")) is None:
            log.info("staging the sources from %s (first start) ...", settings.data_dir)
            materialize_sources(build_definitions(settings), instance)


def up(settings: Settings, port: int = 3000, demo: bool = True) -> int:
    """Run the whole pipeline on this machine until Ctrl-C."""
    home = prepare_dagster_home(settings)
    env = {**os.environ, **spark_environment(), "DAGSTER_HOME": str(home)}
    if demo:
        env.setdefault("SMARTMETER_REPLAY_ENABLED", "true")
        env.setdefault("SMARTMETER_REPLAY_INTERVAL_SECONDS", str(DEMO_REPLAY_INTERVAL_SECONDS))

    broker = EmbeddedBroker(home=settings.home.resolve()) if settings.kafka_is_embedded else None
    dagster: subprocess.Popen[bytes] | None = None
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        bootstrap = broker.start() if broker else settings.kafka_bootstrap
        ensure_topic(
            bootstrap, settings.kafka_topic, settings.kafka_partitions, settings.kafka_replication_factor,
            security=KafkaSecurity.from_settings(settings),
        )  # fmt: skip
        if demo:
            stage_sources_once(settings, home)
        command = [
            sys.executable, "-m", "dagster", "dev",
            "-m", "smartmeter_assets.definitions",
            "-h", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
        log.info("Kafka on %s; Dagster UI on http://127.0.0.1:%d (Ctrl-C stops everything)", bootstrap, port)
        dagster = subprocess.Popen(command, env=env, start_new_session=True)
        while not stopping and dagster.poll() is None:
            time.sleep(0.5)
        return 0 if stopping else int(dagster.returncode or 0)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if dagster is not None:
            log.info("stopping Dagster and everything it started ...")
            killed = stop_tree(dagster)
            if killed:
                log.warning("%d process(es) had to be killed", killed)
        if broker is not None:
            broker.stop()
        log.info("stopped")
