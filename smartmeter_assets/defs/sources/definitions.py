"""The sources' Definitions: the four CSV-backed assets, their checks, and where the files are."""

from dagster import Definitions

from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.sources.checks import SOURCE_CHECKS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=SOURCE_ASSETS,
        asset_checks=SOURCE_CHECKS,
        resources={"sources": SourceFilesResource.from_settings(settings)},
    )
