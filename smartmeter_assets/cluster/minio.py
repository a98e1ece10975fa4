"""MinIO, the cluster's S3 server: the binary ``make cluster-install`` built from the Go module proxy.

Why built from source: MinIO now ships its community edition as source only, and the Go module
proxy serves it as one pseudo-version (pinned in :mod:`smartmeter_assets.components`). The build
runs at install time (``smartmeter cluster install``), never when the cluster starts. Its root
credentials are the AWS_* pair every client uses, as in compose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from smartmeter_assets.cluster.process import ManagedProcess, ServiceError, http_ok
from smartmeter_assets.cluster.topology import HOST, MINIO_CONSOLE_PORT, MINIO_PORT, Layout
from smartmeter_assets.components import MINIO_MODULE, MINIO_VERSION

NAME = "minio"
#: MinIO's own liveness endpoint (what ``mc ready`` asks).
HEALTH_PATH = "/minio/health/live"
BUILD_TIMEOUT_SECONDS = 1800


def binary_dir() -> Path:
    """Built binaries, kept between installs like the Ivy cache."""
    return Path.home() / ".cache" / "smartmeter" / "bin"


def binary_path() -> Path:
    """One file per pinned version: changing the pin builds again, never runs a stale binary."""
    return binary_dir() / f"minio-{MINIO_VERSION}"


def build(force: bool = False) -> tuple[Path, float]:
    """``go install`` the pinned MinIO into :func:`binary_dir`; (path, seconds it took)."""
    target = binary_path()
    if target.is_file() and not force:
        return target, 0.0
    go = shutil.which("go")
    if go is None:
        raise ServiceError("no `go` on PATH: MinIO is built from source (Go 1.24+) by `make cluster-install`")
    scratch = binary_dir() / "build"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(scratch), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    started = time.monotonic()
    done = subprocess.run(
        [go, "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
        env=env, capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_SECONDS,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise ServiceError(f"go install {MINIO_MODULE}@{MINIO_VERSION} failed (exit {done.returncode}):\n{tail}")
    (scratch / "minio").replace(target)
    return target, time.monotonic() - started


def service(
    layout: Layout, env: dict[str, str], port: int = MINIO_PORT, console_port: int = MINIO_CONSOLE_PORT
) -> ManagedProcess:
    """The server on compose's ports (tests pass free ones), data under the cluster's home."""
    binary = binary_path()
    if not binary.is_file():
        raise ServiceError(f"MinIO {MINIO_VERSION} is not built ({binary}): run `make cluster-install` once")
    server_env = {
        **env,
        "MINIO_ROOT_USER": env["AWS_ACCESS_KEY_ID"],
        "MINIO_ROOT_PASSWORD": env["AWS_SECRET_ACCESS_KEY"],
        "MINIO_BROWSER": "on",
    }
    command = [
        str(binary), "server", str(layout.minio_data),
        "--address", f"{HOST}:{port}", "--console-address", f"{HOST}:{console_port}",
    ]  # fmt: skip
    layout.minio_data.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        NAME, command, server_env, layout.logs, probe=lambda: http_ok(f"http://{HOST}:{port}{HEALTH_PATH}")
    )
