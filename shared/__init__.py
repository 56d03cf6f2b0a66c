"""algopioneer's common package: contracts, bus, telemetry, config, runtime and pure domain cores."""
