"""The one Definitions of the code location (workspace.yaml points here): every ``defs/<system>/``
folder's own Definitions, built from one Settings object and merged.

Each folder says what it adds (assets, checks, jobs, sensors, the resources it owns), so a new
system is a new folder and one line here. Not Dagster's ``load_defs`` folder scan: it calls each
folder without arguments, and every definition here is built from the Settings a caller passes
(tests and ``smartmeter run`` pass their own).
"""

from __future__ import annotations

from dagster import Definitions

from smartmeter_assets.defs.kafka import definitions as kafka
from smartmeter_assets.defs.lake import definitions as lake
from smartmeter_assets.defs.reports import definitions as reports
from smartmeter_assets.defs.sources import definitions as sources
from smartmeter_assets.defs.stream import definitions as stream
from smartmeter_assets.settings import Settings

SYSTEMS = (sources, kafka, stream, lake, reports)


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything wired from one Settings object (tests pass their own)."""
    settings = settings or Settings()
    return Definitions.merge(*(system.build_definitions(settings) for system in SYSTEMS))


defs = build_definitions()
