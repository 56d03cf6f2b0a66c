"""The live Coinbase Advanced Trade adapter, in the fixed adapter shape.

`config` (settings), `constants` (paths, reason codes), `http` (the SDK client in a thread, rate
limit, backoff), `ws` (the `user` channel as a low-latency trigger), `schemas` (Structs for the
venue's raw JSON, defined in `shared.coinbase`), `parse` (venue → domain, order → request body; the
protocol parsing itself is `shared.coinbase.parse`), `errors` (SDK failures → the typed tree).
Around them: `state` (order records in KV `exec_state`), `fills` (the REST fills cursor, the
authoritative record), `tracker` (acceptance, fills and status, reported once) and `adapter`.
"""
