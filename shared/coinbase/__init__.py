"""Coinbase Advanced Trade protocol pieces that more than one service speaks.

`schemas` (Structs for the venue's raw REST/WS JSON, one per venue shape), `parse` (venue strings →
Decimal / ns, the venue's order statuses), `rest` (the SDK `RESTClient`, built the one right way)
and `candles` (REST candle paging and merging). No service imports another's copy of these; the
conversions into a service's own model stay in that service.
"""
