"""One package per service: thin adapters that wire the bus to a domain core."""
