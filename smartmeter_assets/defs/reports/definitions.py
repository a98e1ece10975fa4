"""The reports' Definitions: the report assets, refreshed by their automation condition's sensor."""

from dagster import Definitions

from smartmeter_assets.defs.reports.refresh import build_refresh_sensor, refreshed_reports
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(assets=refreshed_reports(settings), sensors=[build_refresh_sensor(settings)])
