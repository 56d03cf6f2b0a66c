"""The strategy service: a portfolio of strategy instances shared by any number of workers.

Each instance is owned by exactly one worker through a lease in KV `worker_leases`; the worker feeds
market data to the pure cores in `shared.strategies`, turns their order requests into rounded
`OrderIntent`s, feeds order events and fills back, and snapshots state to KV `strategy_snapshots`.
"""
