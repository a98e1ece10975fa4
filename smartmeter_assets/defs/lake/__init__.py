"""The lake as Dagster sees it: resource, observable tables, checks."""
