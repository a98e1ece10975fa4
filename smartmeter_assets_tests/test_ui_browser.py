"""What a user of ``make up`` sees in the Dagster UI, checked in a real browser.

Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run``) driven by Playwright, against
the ``smartmeter up`` of the shared ``embedded_up`` fixture on the committed sample. Every step
saves a screenshot under the test's temporary folder; a failure names the screenshot to look at.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.lake.assets import lake_asset_key
from smartmeter_assets.defs.stream.sensor import SENSOR_NAME
from smartmeter_assets_tests.fixtures.embedded_up import EmbeddedUp, wait_for

pytestmark = pytest.mark.spark

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LINEAGE = ("sources", "kafka", "lake", "reports")  # the asset groups, upstream first
REPORT = "demand_by_segment"
LAKE_WAIT_SECONDS = 300  # sources staged, the stream's JVM up, a replayed day landed
REPORT_WAIT_SECONDS = 300  # the next minute's tick, then the reports' run
CODE_LOCATION = "smartmeter_assets.definitions"  # how `dagster dev -m` names it


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(30_000)
        # Dagster asks a first visitor to join its community: dismissed whenever it shows up
        page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
        try:
            yield page
        finally:
            browser.close()


@contextmanager
def seen(page: Page, folder: Path, name: str) -> Iterator[None]:
    """A step of what the user sees: screenshot it, and name the screenshot if it fails."""
    shot = folder / f"{name}.png"
    try:
        yield
    except (AssertionError, PlaywrightError) as error:
        page.screenshot(path=shot, full_page=True)
        raise AssertionError(f"{name}: {error}\nscreenshot: {shot}") from error
    page.screenshot(path=shot, full_page=True)


def metadata_value(page: Page, key: str) -> str:
    """The value cell of ``key`` in the asset page's metadata table (the row reads key, time, value)."""
    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True))
    expect(row).to_have_count(1)
    return row.locator("td").last.inner_text().strip()


def latest_materialization_of(up: EmbeddedUp, key: AssetKey) -> tuple[float, dict[str, str]] | None:
    """When ``key`` was last materialized and its run's tags, read from the instance ``up`` writes."""
    with DagsterInstance.from_config(str(up.dagster_home)) as instance:
        event = instance.get_latest_materialization_event(key)
        if event is None:
            return None
        run = instance.get_run_by_id(event.run_id)
        return event.timestamp, dict(run.tags) if run else {}


def lake_rows(up: EmbeddedUp) -> int:
    with DagsterInstance.from_config(str(up.dagster_home)) as instance:
        records = instance.fetch_observations(lake_asset_key(RAW), limit=1).records
    if not records or records[0].asset_observation is None:
        return 0
    rows = records[0].asset_observation.metadata.get("rows")
    return int(rows.value) if rows is not None else 0  # type: ignore[arg-type]


def test_the_asset_graph_shows_sources_kafka_lake_reports_in_that_order(
    embedded_up: EmbeddedUp, page: Page, tmp_path: Path
) -> None:
    with seen(page, tmp_path, "lineage"):
        page.goto(f"{embedded_up.url}/asset-groups")
        lefts = []
        for group in LINEAGE:
            node = page.locator("foreignObject").filter(has=page.get_by_text(group, exact=True))
            expect(node, f"the group {group} on the asset graph").to_have_count(1)
            box = node.bounding_box()
            assert box is not None, f"the group {group} is not drawn"
            lefts.append(box["x"])
        assert lefts == sorted(lefts), f"the graph does not read {' -> '.join(LINEAGE)} left to right: x = {lefts}"


def test_lake_raw_shows_its_rows_and_the_stream_lag(embedded_up: EmbeddedUp, page: Page, tmp_path: Path) -> None:
    wait_for(lambda: lake_rows(embedded_up) > 0, LAKE_WAIT_SECONDS, f"readings in raw/\n{embedded_up.log_tail()}")
    with seen(page, tmp_path, "lake_raw"):
        page.goto(f"{embedded_up.url}/assets/{lake_asset_key(RAW).to_user_string()}")
        expect(page.get_by_text("Latest observation")).to_be_visible()
        rows = metadata_value(page, "rows")
        assert rows.replace(",", "").isdigit() and int(rows.replace(",", "")) > 0, f"rows shows {rows!r}"
        lag = metadata_value(page, "stream_lag")
        assert lag.replace(",", "").isdigit(), f"stream_lag shows {lag!r}"
        expect(page.locator("tr").filter(has=page.get_by_text("stream_lag_per_partition", exact=True))).to_have_count(1)


def test_a_report_refreshed_by_itself_shows_its_plot(embedded_up: EmbeddedUp, page: Page, tmp_path: Path) -> None:
    key = AssetKey(REPORT)
    wait_for(
        lambda: latest_materialization_of(embedded_up, key) is not None,
        LAKE_WAIT_SECONDS + REPORT_WAIT_SECONDS,
        f"{REPORT} to be materialized by its automation condition\n{embedded_up.log_tail()}",
    )
    materialized = latest_materialization_of(embedded_up, key)
    assert materialized is not None
    _, tags = materialized
    assert tags.get("dagster/from_automation_condition") == "true", f"not materialized by automation: {tags}"
    with seen(page, tmp_path, "report"):
        page.goto(f"{embedded_up.url}/assets/{REPORT}")
        expect(page.get_by_text("Latest materialization")).to_be_visible()
        row = page.locator("tr").filter(has=page.get_by_text("plot", exact=True))
        expect(row).to_have_count(1)
    with seen(page, tmp_path, "report_plot"):
        show = row.get_by_text("[Show Markdown]")
        if show.count():  # a long Markdown value (a real plot) opens in a dialog; a short one shows in the row
            show.click()
            plot = page.get_by_role("dialog").get_by_role("img", name=REPORT)
        else:
            plot = row.get_by_role("img", name=REPORT)
        expect(plot).to_be_visible()
        size = plot.evaluate("image => image.complete ? image.naturalWidth : 0")
        assert size > 0, "the plot's <img> did not load (naturalWidth 0)"


def test_the_stream_sensor_is_running_and_ticking(embedded_up: EmbeddedUp, page: Page, tmp_path: Path) -> None:
    url = f"{embedded_up.url}/locations/{CODE_LOCATION}/sensors/{SENSOR_NAME}"

    def latest_tick() -> str:
        page.goto(url)
        expect(page.get_by_text("Running", exact=True).first).to_be_visible()
        cell = page.locator("tr").filter(has=page.get_by_text("Latest tick", exact=True)).locator("td").last
        expect(cell).to_contain_text(re.compile(r"\d:\d\d:\d\d"))
        return cell.inner_text()

    with seen(page, tmp_path, "sensor"):
        first = latest_tick()
    deadline = time.monotonic() + 60  # the sensor ticks every 15 s
    with seen(page, tmp_path, "sensor_later"):
        later = latest_tick()
        while later == first and time.monotonic() < deadline:
            page.wait_for_timeout(5_000)
            later = latest_tick()
        assert later != first, f"the latest tick stayed {first!r} for a minute"
