"""Risk service: pre-trade checks, circuit breaker, kill switch and PnL aggregation (issue 7).

The rules, breaker, rate limits and ledger are the pure cores in `shared.risk` and `shared.ledger`;
this package wires them to the bus.
"""
