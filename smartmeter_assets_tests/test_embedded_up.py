"""``smartmeter up``: serves the UI on 127.0.0.1 and starts the stream; Ctrl-C leaves no process behind
(checked when the shared ``embedded_up`` fixture stops it, at the end of the session)."""

from __future__ import annotations

import pytest

from smartmeter_assets.kafka.broker import read_state
from smartmeter_assets_tests.fixtures.embedded_up import EmbeddedUp, ui_answers, wait_for


@pytest.mark.spark
def test_up_serves_the_ui_and_starts_the_stream(embedded_up: EmbeddedUp) -> None:
    assert ui_answers(embedded_up.port)
    assert read_state(embedded_up.home) is not None  # the embedded broker is up

    def stream_started() -> bool:
        return any("smartmeter_assets.stream" in line for line in embedded_up.command_lines())

    wait_for(stream_started, 120, "the sensor to start the stream")
