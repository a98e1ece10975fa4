"""PostgreSQL for Dagster's storage: Debian's ``postgresql`` package, run by ``pg_ctlcluster``.

Not a child of the supervisor: Postgres refuses to run as root, and Debian already runs it as
its own user under its own service manager (``.ci/run`` installs and starts it). The supervisor
makes sure it is started, creates compose's ``dagster`` role and database once (with the
generated password), and watches it like the other services.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from smartmeter_assets.cluster.process import ServiceError, port_open
from smartmeter_assets.cluster.topology import HOST, POSTGRES_PORT

NAME = "postgres"
_CLUSTER_LINE = re.compile(r"^(?P<version>\d+)\s+(?P<name>\S+)\s+(?P<port>\d+)\s+(?P<status>\S+)")


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def debian_cluster() -> tuple[str, str, str]:
    """(version, name, status) of Debian's cluster on compose's port (``pg_lsclusters``)."""
    if shutil.which("pg_lsclusters") is None:
        raise ServiceError(
            "no PostgreSQL here: install Debian's package (`apt-get install -y postgresql`, as .ci/run does)"
        )
    for line in _run(["pg_lsclusters", "--no-header"], "pg_lsclusters").splitlines():
        found = _CLUSTER_LINE.match(line.strip())
        if found and int(found["port"]) == POSTGRES_PORT:
            return found["version"], found["name"], found["status"]
    raise ServiceError(f"no PostgreSQL cluster on port {POSTGRES_PORT} (`pg_createcluster <version> main`)")


def superuser_sql(sql: str) -> str:
    """Run SQL as the ``postgres`` superuser (peer authentication on the local socket)."""
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return _run([*runner, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], "psql")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresService:
    name = NAME

    def __init__(self, user: str, password: str, database: str) -> None:
        self.user, self.password, self.database = user, password, database
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self) -> None:
        version, cluster, status = debian_cluster()
        if status != "online":
            _run(["pg_ctlcluster", version, cluster, "start"], f"pg_ctlcluster {version} {cluster} start")
        role = superuser_sql(f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(self.user)}").strip()
        verb = "ALTER" if role else "CREATE"
        superuser_sql(f'{verb} ROLE "{self.user}" WITH LOGIN PASSWORD {_literal(self.password)}')
        if not superuser_sql(f"SELECT 1 FROM pg_database WHERE datname = {_literal(self.database)}").strip():
            superuser_sql(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"')
        self._pid = self._postmaster_pid(version, cluster)
        if not self.healthy():
            raise ServiceError(f"PostgreSQL {version}/{cluster} does not accept {self.user}@{HOST}:{POSTGRES_PORT}")

    @staticmethod
    def _postmaster_pid(version: str, cluster: str) -> int | None:
        path = Path(f"/var/lib/postgresql/{version}/{cluster}/postmaster.pid")
        try:
            return int(path.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return port_open(HOST, POSTGRES_PORT)

    def healthy(self) -> bool:
        import psycopg2

        try:
            connection = psycopg2.connect(
                host=HOST, port=POSTGRES_PORT, user=self.user, password=self.password,
                dbname=self.database, connect_timeout=3,
            )  # fmt: skip
        except psycopg2.Error:
            return False
        connection.close()
        return True

    def stop(self) -> None:
        """Left running: Debian's service manager owns it (``pg_ctlcluster ... stop`` stops it)."""


def recreate_database(env: dict[str, str]) -> None:
    """Drop ``DAGSTER_POSTGRES_DB`` (a check's own database) so the next start makes it empty."""
    version, cluster, status = debian_cluster()
    if status != "online":
        _run(["pg_ctlcluster", version, cluster, "start"], f"pg_ctlcluster {version} {cluster} start")
    superuser_sql(f'DROP DATABASE IF EXISTS "{env["DAGSTER_POSTGRES_DB"]}" WITH (FORCE)')
