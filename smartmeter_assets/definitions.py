"""The one Definitions of the code location (workspace.yaml points here)."""

from __future__ import annotations

from dagster import Definitions, PipesSubprocessClient

from smartmeter_assets.defs.kafka.assets import KAFKA_ASSETS
from smartmeter_assets.defs.kafka.resources import KafkaResource
from smartmeter_assets.defs.lake.assets import lake_tables
from smartmeter_assets.defs.lake.checks import build_lake_checks
from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager
from smartmeter_assets.defs.lake.maintenance import build_maintenance_job, build_maintenance_schedule
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.reports.assets import REPORT_ASSETS
from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.sources.checks import SOURCE_CHECKS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.defs.stream.checks import build_stream_checks
from smartmeter_assets.defs.stream.job import build_stream_job
from smartmeter_assets.defs.stream.replay import build_replay_clock
from smartmeter_assets.defs.stream.resources import StreamResource
from smartmeter_assets.defs.stream.sensor import build_stream_sensor
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything wired from one Settings object (tests pass their own)."""
    settings = settings or Settings()
    return Definitions(
        assets=[*SOURCE_ASSETS, *KAFKA_ASSETS, lake_tables, *REPORT_ASSETS],
        asset_checks=[*SOURCE_CHECKS, *build_lake_checks(settings), *build_stream_checks(settings)],
        jobs=[build_stream_job(settings.stream_query_name), build_maintenance_job()],
        schedules=[build_maintenance_schedule(settings)],
        sensors=[build_stream_sensor(settings), build_replay_clock(settings)],
        resources={
            "io_manager": LakeParquetIOManager(url=settings.lake_root, allow_http=settings.s3_allow_http),
            "lake": LakeResource.from_settings(settings),
            "sources": SourceFilesResource.from_settings(settings),
            "kafka": KafkaResource.from_settings(settings),
            "stream": StreamResource.from_settings(settings),
            "pipes_subprocess_client": PipesSubprocessClient(),
        },
    )


defs = build_definitions()
