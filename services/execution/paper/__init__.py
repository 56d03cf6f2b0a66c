"""The paper venue: `shared.venue.Venue` (the simulator's matching, holds and fees) driven by market
data from the bus, with its account and orders persisted in KV `paper_account`."""
