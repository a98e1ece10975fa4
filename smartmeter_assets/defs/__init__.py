"""Dagster definitions, one folder per system they speak to."""
