"""Execution: approved orders in, order events and fills out, against the live venue or a paper one.

Two adapters implement one `ExecutionAdapter` Protocol and are chosen by `mode`:
`coinbase/` speaks Coinbase Advanced Trade through the official SDK; `paper/` drives the pure
`shared.venue.Venue` (the simulator's own matching and fees) from market data on the bus. The thin
`ExecutionService` owns the work queue, publishing, metrics and the product catalogue.
"""
