"""The one Definitions of the code location (workspace.yaml points here)."""

from __future__ import annotations

from dagster import Definitions

from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.sources.checks import SOURCE_CHECKS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything wired from one Settings object (tests pass their own)."""
    settings = settings or Settings()
    return Definitions(
        assets=[*SOURCE_ASSETS],
        asset_checks=[*SOURCE_CHECKS],
        resources={
            "io_manager": LakeParquetIOManager(url=settings.lake_root),
            "lake": LakeResource.from_settings(settings),
            "sources": SourceFilesResource.from_settings(settings),
        },
    )


defs = build_definitions()
