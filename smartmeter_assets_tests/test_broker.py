"""The embedded broker: Apache Kafka started and stopped by the project, never orphaned, its log on disk."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from smartmeter_assets.kafka.broker import (
    STATE_FILE,
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


def test_a_restarted_broker_finds_the_topic_and_its_records(tmp_path: Path) -> None:
    from kafka import KafkaProducer

    from smartmeter_assets.kafka.offsets import end_offsets
    from smartmeter_assets.kafka.topic import ensure_topic, topic_id

    with EmbeddedBroker(home=tmp_path) as broker:
        ensure_topic(broker.bootstrap, "kept", 3)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        for n in range(30):
            producer.send("kept", key=str(n % 7).encode(), value=b"{}")
        producer.flush()
        producer.close()
        before = end_offsets(broker.bootstrap, "kept")
        identity = topic_id(broker.bootstrap, "kept")
    with EmbeddedBroker(home=tmp_path) as broker:  # may be on another port: the log is on disk
        assert end_offsets(broker.bootstrap, "kept") == before and sum(before.values()) == 30
        assert topic_id(broker.bootstrap, "kept") == identity
        assert not ensure_topic(broker.bootstrap, "kept", 3).created


def test_a_second_broker_on_the_same_home_is_refused(tmp_path: Path) -> None:
    with EmbeddedBroker(home=tmp_path) as broker, pytest.raises(BrokerError, match="already running"):
        EmbeddedBroker(home=tmp_path).start()
    assert broker.process is None and not (tmp_path / STATE_FILE).exists()


def test_the_broker_dies_with_its_owner_even_after_kill_9(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    owner = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from pathlib import Path; "
            "from smartmeter_assets.kafka.broker import EmbeddedBroker; "
            f"EmbeddedBroker(home=Path({str(tmp_path)!r})).start(); print('up', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == b"up"
        state = read_state(tmp_path)
        assert state is not None and state.alive()
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 30
        while state.alive() and psutil.Process(state.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the broker outlived its owner"
            time.sleep(0.2)
    finally:
        owner.kill()
