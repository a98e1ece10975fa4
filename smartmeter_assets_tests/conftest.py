"""Test-session wiring: the shared fixtures live in ``fixtures/`` modules, one per real component."""

import os
import sys
from pathlib import Path

import pytest

# Spark's Python workers must run the venv's interpreter (where the project is installed).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"

pytest_plugins = [
    "smartmeter_assets_tests.fixtures.tls",
    "smartmeter_assets_tests.fixtures.broker",
    "smartmeter_assets_tests.fixtures.s3",
    "smartmeter_assets_tests.fixtures.report_lake",
    "smartmeter_assets_tests.fixtures.spark",
    "smartmeter_assets_tests.fixtures.embedded_up",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the shared ``smartmeter up`` run last, one after the other: the session fixture
    stops it only when the session ends, and its stream, daemon and report runs would otherwise
    share the two cores with every test after the first that uses it."""
    items.sort(key=lambda item: "embedded_up" in getattr(item, "fixturenames", ()))
