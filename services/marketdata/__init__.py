"""Market data: the Coinbase feed (or a replay / synthetic source) normalized onto the bus.

The fixed venue-adapter shape: `config`, `constants`, `ws` (the venue connection), `schemas` (the venue's raw
JSON), `parse` (venue → domain), `errors`; pure cores in `book`, `sequence`, `backoff`, `health` and
`processor`; sources in `sources`; candle history in `candles`; the thin service in `service`.
"""
