"""The embedded home's event log: Dagster's own files, written with connections kept open.

Real Dagster throughout: an instance on a home made by ``prepare_dagster_home``, a real job
executed in process, Dagster's own ``SqliteEventLogStorage`` reading what ours wrote (and the
other way round), and two processes creating the same run's database at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sqlite3
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, job, op
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy.exc import OperationalError

from smartmeter_assets.dagster_event_log import OPEN_DATABASES, PooledSqliteEventLogStorage
from smartmeter_assets.dagster_home import prepare_dagster_home
from smartmeter_assets.settings import Settings


def _engine_event(run_id: str, message: str = "x") -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level="debug", user_message=message, run_id=run_id, timestamp=time.time(),
        step_key=None, job_name="probe",
        dagster_event=DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "probe", event_specific_data=EngineEventData()),
    )  # fmt: skip


def _schema(path: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        mode = connection.execute("PRAGMA journal_mode").fetchone()
    return [*rows, *version, mode]


@op
def probe_op() -> int:
    return 1


@job
def probe_job() -> None:
    probe_op()


def test_the_embedded_home_uses_it_and_dagster_reads_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = prepare_dagster_home(Settings(home=tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = probe_job.execute_in_process(instance=instance)
        assert result.success
        written = [e.dagster_event_type for e in instance.all_logs(result.run_id) if e.is_dagster_event]
    assert DagsterEventType.RUN_SUCCESS in written
    # Dagster's default folder, read by Dagster's own class: a home keeps its history either way
    folder = home / "history" / "runs"
    plain = SqliteEventLogStorage(str(folder))
    assert [e.dagster_event_type for e in plain.get_logs_for_run(result.run_id) if e.is_dagster_event] == written
    assert result.run_id in plain.get_all_run_ids()  # the staging copies are not taken for runs
    plain.store_event(_engine_event("written-by-dagster"))
    pooled = PooledSqliteEventLogStorage(str(folder))
    assert len(pooled.get_logs_for_run("written-by-dagster")) == 1
    pooled.dispose()


def test_a_new_run_database_is_the_one_dagster_would_create(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    pooled.store_event(_engine_event("run-a"))
    plain.store_event(_engine_event("run-a"))
    pooled.dispose()  # closed: checkpointed, so the folder holds the run's file alone
    assert sorted(p.name for p in (tmp_path / "pooled").iterdir() if not p.name.startswith("index")) == ["run-a.db"]
    assert _schema(tmp_path / "pooled" / "run-a.db") == _schema(tmp_path / "plain" / "run-a.db")


def test_connections_stay_open_for_a_few_databases_only(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [f"run-{n}" for n in range(OPEN_DATABASES + 3)]
    for run_id in runs * 2:  # every run's database closed and opened again on the second pass
        pooled.store_event(_engine_event(run_id))
    assert len(pooled._engines) == OPEN_DATABASES
    assert [len(pooled.get_logs_for_run(run_id)) for run_id in runs] == [2] * len(runs)
    with pooled.run_connection(runs[-1]) as connection:  # commits sync at checkpoints only (NORMAL = 1)
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    pooled.wipe()
    assert pooled.get_all_run_ids() == []
    assert [shard for shard in pooled._engines if shard in runs] == []  # closed before their files went
    pooled.dispose()


def test_a_connection_the_database_raised_on_is_not_kept(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    pooled.store_event(_engine_event("run-a"))
    failed = pooled._engines["run-a"]
    with pytest.raises(OperationalError), pooled.run_connection("run-a") as connection:
        connection.exec_driver_sql("SELECT * FROM no_such_table")
    assert "run-a" not in pooled._engines
    pooled.store_event(_engine_event("run-a"))  # a new connection
    assert pooled._engines["run-a"] is not failed
    assert len(pooled.get_logs_for_run("run-a")) == 2
    pooled.dispose()


def test_a_watcher_of_the_run_sees_each_event_as_it_is_written(tmp_path: Path) -> None:
    """The UI's live run log: Dagster's watcher of a run's file, in another storage, as in the webserver."""
    writer = PooledSqliteEventLogStorage(str(tmp_path))
    writer.store_event(_engine_event("run-a", "first"))
    reader = PooledSqliteEventLogStorage(str(tmp_path))
    seen: queue.Queue[str] = queue.Queue()
    reader.watch("run-a", None, lambda event, _cursor: seen.put(event.user_message))
    writer.store_event(_engine_event("run-a", "second"))  # its connection stays open: WAL only
    messages = []
    with contextlib.suppress(queue.Empty):
        while "second" not in messages:
            messages.append(seen.get(timeout=10))
    assert "second" in messages
    reader.dispose()
    writer.dispose()


def _write_events(folder: str, run_id: str, count: int, start: multiprocessing.synchronize.Event) -> None:
    storage = PooledSqliteEventLogStorage(folder)
    start.wait()
    for n in range(count):
        storage.store_event(_engine_event(run_id, message=str(n)))
    storage.dispose()


def test_two_processes_create_and_write_the_same_run_database(tmp_path: Path) -> None:
    PooledSqliteEventLogStorage(str(tmp_path)).dispose()  # the index, as an instance makes it first
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_write_events, args=(str(tmp_path), "shared", 50, start)) for _ in range(2)]
    for writer in writers:
        writer.start()
    start.set()
    for writer in writers:
        writer.join(timeout=60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert len(SqliteEventLogStorage(str(tmp_path)).get_logs_for_run("shared")) == 100
