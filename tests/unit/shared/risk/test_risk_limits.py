"""RiskLimits and ProductInfo validation: bad values fail naming the field; unknown fields are refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from shared.errors import ConfigError
from shared.messages import ProductInfo
from shared.risk import RiskLimits
from tests.unit.shared.risk.helpers import limits

D = Decimal


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_position_notional", D(0)),
        ("max_position_notional", D("NaN")),
        ("max_strategy_notional", D("-1")),
        ("max_gross_exposure", D("Infinity")),
        ("daily_loss_limit", D("-100")),
        ("day_boundary_hour_utc", 24),
        ("day_boundary_hour_utc", -1),
        ("price_band_bps", D(0)),
        ("max_staleness_ms", 0),
        ("max_position_base", {"BTC-USD": D("-1")}),
        ("max_position_notional_by_product", {"BTC-USD": D("NaN")}),
    ],
)
def test_bad_limits_name_their_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        limits(**{field: value})


def test_limits_decode_from_json_and_refuse_unknown_fields() -> None:
    raw = msgspec.json.encode(limits())
    assert msgspec.json.decode(raw, type=RiskLimits) == limits()
    extra = msgspec.json.decode(raw, type=dict)
    extra["max_leverage"] = 3
    with pytest.raises(msgspec.ValidationError, match="max_leverage"):
        msgspec.json.decode(msgspec.json.encode(extra), type=RiskLimits)
    missing = msgspec.json.decode(raw, type=dict)
    del missing["daily_loss_limit"]
    with pytest.raises(msgspec.ValidationError, match="daily_loss_limit"):
        msgspec.json.decode(msgspec.json.encode(missing), type=RiskLimits)


def test_per_product_notional_override() -> None:
    lim = limits(max_position_notional_by_product={"ETH-USD": D("10")})
    assert lim.position_notional_cap("ETH-USD") == D("10")
    assert lim.position_notional_cap("BTC-USD") == lim.max_position_notional


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_increment", D(0)),
        ("price_increment", D("NaN")),
        ("base_min_size", D("-1")),
        ("min_notional", D("-0.01")),
        ("contract_size", D(0)),
    ],
)
def test_bad_product_info_names_its_field(field: str, value: Decimal) -> None:
    fields: dict[str, Any] = {
        "venue": "coinbase",
        "product_id": "BTC-USD",
        "base_increment": D("0.00000001"),
        "price_increment": D("0.01"),
    }
    fields[field] = value
    with pytest.raises(ConfigError, match=field):
        ProductInfo(**fields)
