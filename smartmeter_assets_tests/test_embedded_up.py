"""``smartmeter up``: serves the UI on 127.0.0.1, starts the stream, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from smartmeter_assets.kafka.broker import free_port, read_state


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def ui_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.spark
def test_up_serves_the_ui_starts_the_stream_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SMARTMETER_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "smartmeter_assets.cli", "up", "--port", str(port), "--no-replay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = psutil.Process(up.pid)
    try:
        wait_for(lambda: ui_answers(port), 120, "the Dagster UI")
        assert read_state(tmp_path / "home") is not None  # the embedded broker is up

        def stream_started() -> bool:
            return any("smartmeter_assets.stream" in " ".join(p.cmdline()) for p in root.children(recursive=True))

        wait_for(stream_started, 120, "the sensor to start the stream")
    finally:
        tree = root.children(recursive=True)
        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not survivors, [" ".join(p.cmdline())[:120] for p in survivors]
    assert read_state(tmp_path / "home") is None
