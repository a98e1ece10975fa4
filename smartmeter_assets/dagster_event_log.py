"""Dagster's SQLite event log, with each database's connection kept open and new run databases copied.

Why: the embedded home (``smartmeter up`` / ``smartmeter run``) keeps Dagster's default storage,
one SQLite file per run plus an index. Dagster's ``SqliteEventLogStorage`` builds a new engine and
opens a new connection for every event it stores, and closing the last connection of a WAL
database checkpoints it: three file syncs and a dialect set-up per event. A run's first event
also creates its database: tables, indexes and an alembic stamp, ~150 ms. On a full-scale
``smartmeter run --days 14`` (~20 runs, thousands of events) that was ~7 CPU-s of the command's
~50, on a machine the run keeps busy.

This subclass changes only how connections are made; the files, their schema, their place
(Dagster's default, ``<DAGSTER_HOME>/history/runs/``) and every query are Dagster's own, so the
UI, the daemon and homes written before read them unchanged:

- one engine per database, its connection kept open between events (Dagster already serialises
  a storage's connections with its own lock), for the :data:`OPEN_DATABASES` used last; the
  others are closed (and so checkpointed), and so is one the database raised an error on. A
  run's file is touched after each write: Dagster's watcher of a run (the UI's live log) waits
  for that file to change, which closing the connection used to do;
- its connections commit with ``synchronous=NORMAL`` (see :func:`_sync_at_checkpoints`);
- a new run's database is a copy of an empty database this process initialised once with
  Dagster's own ``_initdb``, linked into place so that two processes creating the same run's
  database never see a half-written file; where one already exists, Dagster's path runs.

Production runs on Postgres (``instance/production.yaml``) and does not use this class.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

#: Databases whose connection stays open (the index, the runs of this process, a UI's recent reads).
OPEN_DATABASES = 8


def _total_changes(connection: Connection) -> int:
    """Rows SQLite changed on this connection since it opened: what tells a write from a read."""
    changes: int = connection.connection.dbapi_connection.total_changes  # type: ignore[union-attr]
    return changes


def _sync_at_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    """WAL commits without a file sync of their own (``synchronous=NORMAL``); checkpoints still sync.

    Every event is a commit: with SQLite's default (FULL) each synced the WAL, 0.35 ms against
    0.05 ms here (500 commits of 2 kB); a full-scale 14-day run stores ~850 events, most of them
    on its publishing path. A WAL database stays consistent either way; what NORMAL gives up is the
    last events of the run history on a power loss, never on a crash of the process.
    """
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` keeping connections open and copying new run databases (see module)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._empty_database: bytes | None = None
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            try:
                with engine.connect() as connection:
                    changes = _total_changes(connection)
                    with connection.begin():
                        yield connection
                    wrote = _total_changes(connection) != changes
            except DBAPIError:
                # not kept: the next call opens a new connection, as Dagster's own class always does
                # (a connection a full disk or a locked file failed on must not fail every event after)
                self._engines.pop(shard, None)
                engine.dispose()
                raise
            if wrote and shard != INDEX_SHARD_NAME:
                # Dagster's watcher of a run (the UI's live log) waits for the run's file to change.
                # With the connection open, events land in its WAL until a checkpoint: the file
                # is touched so that they show at once, as when every event closed the connection
                Path(self.path_for_shard(shard)).touch()

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            # StaticPool: one connection per database, opened once; Dagster's lock lets one
            # thread at a time use it, so it may be used from another thread than its creator's
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sync_at_checkpoints)
            if shard not in self._initialized_dbs:
                if not self._copy_empty_database(shard):
                    self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > OPEN_DATABASES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    def _copy_empty_database(self, shard: str) -> bool:
        """Put an empty, initialised database in place for a new run; False if the file exists."""
        target = Path(self.path_for_shard(shard))
        if target.exists():
            return False
        if self._empty_database is None:
            self._empty_database = self._initialised_empty_database()
        # a dot file, not *.db: Dagster lists run ids from the *.db files of the folder
        handle, name = tempfile.mkstemp(prefix=f".{shard}.", suffix=".tmp", dir=self._base_dir)
        staging = Path(name)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(self._empty_database)
            target.hardlink_to(staging)  # atomic, and fails rather than replace another process's file
        except FileExistsError:
            return False
        finally:
            staging.unlink()
        return True

    def _initialised_empty_database(self) -> bytes:
        folder = tempfile.mkdtemp(prefix=".empty-run-db.", dir=self._base_dir)
        try:
            engine = create_engine(create_db_conn_string(folder, "empty"), poolclass=StaticPool)
            self._initdb(engine)
            engine.dispose()  # closed: the WAL is checkpointed into the file, which alone is copied
            return Path(str(engine.url.database)).read_bytes()  # the file Dagster's URL names
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _close_all(self) -> None:
        while self._engines:
            _, engine = self._engines.popitem()
            engine.dispose()

    def wipe(self) -> None:
        with self._db_lock:  # no open connection to a file about to be deleted
            self._close_all()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._close_all()
        super().dispose()
