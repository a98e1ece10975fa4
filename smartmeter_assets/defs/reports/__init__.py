"""What the utility learns from the lake: report assets, anomaly quality, the demand forecast."""
