"""Publishes are serialised: both instance configs give the publish's pool one run at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.config import PoolGranularity

from smartmeter_assets.dagster_home import prepare_dagster_home
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.kafka.assets import PUBLISH_POOL
from smartmeter_assets.settings import Settings
from smartmeter_assets_tests.conftest import REPO_ROOT


def test_the_publish_asset_is_in_the_publish_pool(tmp_path: Path) -> None:
    defs = build_definitions(Settings(home=tmp_path, lake_url=str(tmp_path / "lake")))
    node = defs.resolve_asset_graph().get(AssetKey("smart_meter_topic"))
    assert node.pools == {PUBLISH_POOL}


@pytest.mark.parametrize("config", ["embedded", "deploy"])
def test_each_instance_config_admits_one_publish_run_at_a_time(
    tmp_path: Path, config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if config == "embedded":
        home = prepare_dagster_home(Settings(home=tmp_path, lake_url=str(tmp_path / "lake")))
    else:  # the production file, with SQLite instead of Postgres (storage is not what is tested)
        import yaml

        document = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
        document.pop("storage")
        document["compute_logs"]["config"]["base_dir"] = str(tmp_path / "logs")
        home = tmp_path / "deploy-home"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml.safe_dump(document))
    with DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity == PoolGranularity.RUN  # queued, not a blocked run
        assert concurrency.run_queue_config.should_block_op_concurrency_limited_runs
        streams = [
            limit
            for limit in concurrency.run_queue_config.tag_concurrency_limits
            if limit["key"] == "smartmeter/stream"
        ]
        assert streams and streams[0]["limit"] == 1
