"""smartmeter-assets: Smart Meters in London as a Dagster asset platform."""
