"""The `algopioneer` command: the operator front door."""
