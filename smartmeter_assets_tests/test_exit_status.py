"""Every entry point, run as a user runs it, several times: the exit status is the work's, every time.

A process that used delta-rs can abort at interpreter exit (SIGABRT, 134; delta-io/delta-rs#2184),
so one clean run proves little: each entry point runs repeatedly and each status is checked
against what its work says (0, 2 for bad input, the status the run's own summary implies).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from smartmeter_assets.cli import main
from smartmeter_assets.settings import Settings
from smartmeter_assets.testbed.stream_kill import job_environment
from smartmeter_assets.testbed.stream_readings import ensure_topic, publish
from smartmeter_assets_tests.conftest import REPO_ROOT, SAMPLE_DIR

SMARTMETER = [sys.executable, "-m", "smartmeter_assets.cli"]
CONSOLE_SCRIPT = Path(sys.executable).parent / "smartmeter"


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = job_environment(Settings(home=home))
    env.pop("DAGSTER_HOME", None)
    env.update(extra)
    return env


def _around_traceback(stderr: bytes) -> str:
    """The traceback and what was logged just before it: the tail alone hides where it came from."""
    text = stderr.decode(errors="replace")
    at = text.find("Traceback")
    return text[max(0, at - 2000) : at + 4000]


def statuses(
    command: list[str], env: dict[str, str], times: int, timeout: float = 300, logs_tracebacks: bool = False
) -> list[int]:
    """The exit status of ``times`` runs; none may print a traceback unless its work logs one."""
    codes = []
    for _ in range(times):
        finished = subprocess.run(command, env=env, capture_output=True, timeout=timeout, cwd=REPO_ROOT)
        if not logs_tracebacks:
            assert b"Traceback" not in finished.stderr, _around_traceback(finished.stderr)
        codes.append(finished.returncode)
    return codes


def test_a_process_that_read_and_wrote_delta_exits_with_its_status_every_time(tmp_path: Path) -> None:
    """delta-rs' own read path (the one that aborts at exit), ended through run_entry_point."""
    script = tmp_path / "delta_script.py"
    script.write_text(
        textwrap.dedent(f"""
        import pyarrow as pa
        from deltalake import DeltaTable, write_deltalake
        from smartmeter_assets.exit_status import run_entry_point

        def work() -> int:
            write_deltalake({str(tmp_path / "table")!r}, pa.table({{"a": [1, 2], "d": ["x", "y"]}}),
                            mode="append", partition_by=["d"])
            rows = DeltaTable({str(tmp_path / "table")!r}).to_pyarrow_table().num_rows
            print(rows)
            return 3

        run_entry_point(work)
        """)
    )
    env = environment(tmp_path)
    finished = [
        subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=60) for _ in range(12)
    ]
    assert [f.returncode for f in finished] == [3] * 12
    assert [int(f.stdout) for f in finished] == [2 * n for n in range(1, 13)]  # the output was flushed


def test_check_data_and_sample_exit_with_their_status(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert CONSOLE_SCRIPT.is_file(), "the smartmeter console script is installed with the project"
    assert statuses([str(CONSOLE_SCRIPT), "check-data", "--data-dir", str(SAMPLE_DIR), "--quiet"], env, 3) == [0] * 3
    broken = tmp_path / "broken"
    (broken / "halfhourly_dataset").mkdir(parents=True)
    (broken / "informations_households.csv").write_bytes(b"\x00\x01binary")
    assert statuses([*SMARTMETER, "check-data", "--data-dir", str(broken), "--quiet"], env, 3) == [2] * 3
    sample = [*SMARTMETER, "sample", "--households", "4", "--days", "3", "--out", str(tmp_path / "sample")]
    assert statuses(sample, env, 2) == [0, 0]
    assert statuses([*SMARTMETER, "sample", "--households", "0", "--out", str(tmp_path / "x")], env, 2) == [2, 2]
    assert statuses([*SMARTMETER, "run", "--days", "0"], env, 2) == [2, 2]  # argparse's own status


def test_report_exits_with_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SMARTMETER_HOME", str(home))
    expected = main(["report"])  # the same work in this process: nothing materialized in a new home
    assert statuses([*SMARTMETER, "report"], environment(home), 3) == [expected] * 3


@pytest.mark.kafka
def test_init_infra_exits_0_every_time(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = environment(
        tmp_path, SMARTMETER_KAFKA_BOOTSTRAP=kafka_bootstrap, SMARTMETER_KAFKA_TOPIC=f"infra-{uuid.uuid4().hex[:8]}"
    )
    assert statuses([*SMARTMETER, "init-infra"], env, 3) == [0] * 3


@pytest.mark.spark
@pytest.mark.kafka
def test_the_stream_job_exits_0_every_time_it_catches_up(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, kafka_bootstrap=kafka_bootstrap, kafka_topic=f"exit-{uuid.uuid4().hex[:8]}",
        spark_driver_memory="1g",
    )  # fmt: skip
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    publish(kafka_bootstrap, settings.kafka_topic, 0, 480, 10, poison_every=100)
    command = [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"]
    assert statuses(command, job_environment(settings), 2) == [0, 0]  # a full run, then one with nothing new
    no_broker = job_environment(Settings(home=tmp_path / "elsewhere"))
    assert statuses(command, no_broker, 2, logs_tracebacks=True) == [1, 1]  # the job logs why it failed


@pytest.mark.spark
def test_run_exits_with_the_status_its_summary_implies(tmp_path: Path) -> None:
    """``smartmeter run --from D --days 1``, twice: 0 exactly when no check or report failed."""
    env = environment(tmp_path / "home", SMARTMETER_DATA_DIR=str(SAMPLE_DIR))
    assert statuses([*SMARTMETER, "run", "--from", "2099-01-01", "--quiet"], env, 1) == [2]
    for _ in range(2):
        finished = subprocess.run(
            [str(CONSOLE_SCRIPT), "run", "--from", "2013-02-02", "--days", "1", "--quiet"],
            env=env, capture_output=True, timeout=600, cwd=REPO_ROOT,
        )  # fmt: skip
        summary = json.loads(finished.stdout.decode().strip().splitlines()[-1])
        assert summary["days"] == 1 and summary["raw"] > 0
        failed = summary["checks_failed"] or summary["reports_failed"]
        assert finished.returncode == (1 if failed else 0), finished.stderr.decode(errors="replace")[-2000:]


@pytest.mark.spark
def test_a_benchmark_exits_0_every_time(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO_ROOT / "benchmarks" / "stream.py"), "--readings", "1000", "--no-source"]
    assert statuses(command, environment(tmp_path), 2, timeout=400) == [0, 0]


def test_a_child_obeys_sigterm_even_when_its_parent_ignores_it() -> None:
    """``die_with_parent`` gives the child SIGTERM back. In a job started in the background of a shell
    (SIGINT ignored), Dagster maps SIGTERM to SIGINT's disposition after every in-process run, so a
    child started later inherited an *ignored* SIGTERM: neither its parent's stop nor its death
    (PR_SET_PDEATHSIG) ended it (seen in CI with the detector's process). The parent here is a
    process of its own, so the test's own signals stay as they are."""
    parent = textwrap.dedent(
        """
        import signal, subprocess, sys
        from dagster._utils.interrupts import setup_interrupt_handlers
        from smartmeter_assets.exit_status import die_with_parent
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job of a non-interactive shell
        setup_interrupt_handlers()  # what a Dagster run leaves behind in its process
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=die_with_parent)
        child.terminate()
        try:
            print(child.wait(10))
        except subprocess.TimeoutExpired:
            child.kill()
            print("ignored")
        """
    )
    finished = subprocess.run([sys.executable, "-c", parent], capture_output=True, timeout=60, cwd=REPO_ROOT)
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    assert finished.stdout.decode().strip() == "-15"
