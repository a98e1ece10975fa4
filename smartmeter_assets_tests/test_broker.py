"""The embedded broker: started and stopped by the project, never orphaned."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from smartmeter_assets.kafka.broker import (
    BrokerError,
    EmbeddedBroker,
    broker_answers,
    read_state,
    resolve_bootstrap,
)


def test_broker_starts_answers_and_stops_without_orphan(tmp_path: Path) -> None:
    broker = EmbeddedBroker(home=tmp_path)
    with broker:
        assert broker_answers(broker.bootstrap)
        state = read_state(tmp_path)
        assert state is not None and state.bootstrap == broker.bootstrap
        assert resolve_bootstrap("embedded", tmp_path) == broker.bootstrap
        pid = state.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert read_state(tmp_path) is None
    assert not broker_answers(broker.bootstrap, timeout=0.5)


def test_broker_is_stopped_when_the_block_fails(tmp_path: Path) -> None:
    broker = EmbeddedBroker(home=tmp_path)
    with pytest.raises(RuntimeError, match="boom"), broker:
        pid = read_state(tmp_path).pid  # type: ignore[union-attr]
        raise RuntimeError("boom")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_no_running_broker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="no embedded Kafka broker is running"):
        resolve_bootstrap("embedded", tmp_path)


def test_a_real_bootstrap_never_starts_a_broker(tmp_path: Path) -> None:
    assert resolve_bootstrap("kafka:9092", tmp_path) == "kafka:9092"
    assert read_state(tmp_path) is None
