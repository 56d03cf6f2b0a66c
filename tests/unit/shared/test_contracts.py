"""The contracts that cross a process boundary (bus or KV) keep their wire format in their one home,
so data stored by an older version stays readable and every reader uses the writer's own type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args, get_type_hints

import msgspec
import pytest

from services.execution.paper import records as execution_paper
from services.execution.paper.state import account_state, restore_account
from services.reconciliation.venues import paper as reconciliation_paper
from shared import codec
from shared import messages as m
from shared.bus import TypedKV
from shared.messages.snapshots import InstanceSnapshot, MaBook
from shared.sdk.book import SdkBook, SdkSnapshot
from shared.sdk.twoleg import TwoLegSnapshot
from shared.strategies import MachineState
from shared.testing.samples import every_message
from shared.venue import Account, Position

D = Decimal


def wire(value: msgspec.Struct) -> dict[str, Any]:
    """What a value looks like on the bus or in KV, as a plain mapping."""
    decoded: dict[str, Any] = msgspec.msgpack.decode(codec.encode(value))
    return decoded


def stored(payload: dict[str, Any], message_type: type[msgspec.Struct]) -> Any:
    """Decode a payload written as a plain mapping (what an older version stored)."""
    return codec.decode(msgspec.msgpack.encode(payload), message_type)


def test_control_actions_travel_as_the_strings_old_clients_send() -> None:
    assert [str(a) for a in m.ControlAction] == ["halt", "resume", "status"]
    command = m.ControlCommand(action=m.ControlAction.HALT, reason="drill", requested_ns=1)
    assert wire(command)["action"] == "halt"
    old = stored({"action": "resume", "requested_ns": 2}, m.ControlCommand)
    assert old.action is m.ControlAction.RESUME


def test_an_unknown_control_action_fails_at_decode() -> None:
    """Why risk serves control with a `refuse` reply: the handler never sees such a command."""
    with pytest.raises(msgspec.ValidationError, match="explode"):
        stored({"action": "explode", "requested_ns": 3}, m.ControlCommand)


def test_products_and_fee_rates_read_as_stored() -> None:
    product = stored(
        {
            "venue": "coinbase",
            "product_id": "BIT-28NOV25-CDE",
            "base_increment": "1",
            "price_increment": "5",
            "contract_size": "0.01",
            "is_future": True,
        },
        m.ProductInfo,
    )
    assert product.key == ("coinbase", "BIT-28NOV25-CDE")
    assert product.notional(D("2"), D("100000")) == D("2000")
    assert m.index_products([product]) == {product.key: product}
    fees = stored(
        {
            "venue": "coinbase",
            "pricing_tier": "Intro 1",
            "spot_maker": "0.006",
            "spot_taker": "0.012",
            "futures_maker": "0.0002",
            "futures_taker": "0.0003",
            "fetched_ns": 1,
        },
        m.FeeRates,
    )
    assert (fees.taker(product), fees.maker(product)) == (D("0.0003"), D("0.0002"))
    with pytest.raises(msgspec.ValidationError):  # still strict: a typo is not silently dropped
        stored({**wire(product), "contract_sise": "1"}, m.ProductInfo)


def test_instance_keys_and_leases_keep_their_layout() -> None:
    assert (m.worker_key("w1"), m.lease_key("pairs-1"), m.snapshot_key("pairs-1")) == (
        "worker.w1",
        "lease.pairs-1",
        "pairs-1",
    )
    lease = stored(
        {"worker_id": "w1", "strategy_id": "pairs-1", "acquired_ns": 1, "renewed_ns": 2}, m.InstanceLease
    )
    assert lease == m.InstanceLease(worker_id="w1", strategy_id="pairs-1", acquired_ns=1, renewed_ns=2)
    command = stored({"action": "resolve", "positions": ["1", "-1"], "sent_ns": 4}, m.StrategyCommand)
    assert command.action is m.CommandAction.RESOLVE
    assert command.positions == (D(1), D(-1))


@pytest.mark.parametrize(
    "state",
    [
        {"sdk": SdkSnapshot(book=SdkBook(positions={"BTC-USD": D("0.5")}, next_seq=9), state=b"x")},
        {"twoleg": TwoLegSnapshot(machine=MachineState(next_seq=9), fingerprint="f")},
        {"ma_book": MaBook(next_seq=9)},  # written before the SDK runtime
    ],
    ids=["sdk", "twoleg", "ma_book"],
)
def test_an_instance_snapshot_reads_as_stored(state: dict[str, Any]) -> None:
    params = next(x for x in every_message() if isinstance(x, m.StrategySpec)).params
    snapshot = InstanceSnapshot(strategy_id="ma-1", params=params, worker_id="w1", saved_ns=5, **state)
    again = stored(wire(snapshot), InstanceSnapshot)
    assert again == snapshot
    assert again.next_seq == again.retired_copy("w2", 6).next_seq == 9


def test_paper_keys_keep_their_layout() -> None:
    assert m.paper_account_key("coinbase-paper", "acct") == "coinbase-paper.acct.account"
    assert m.paper_order_key("coinbase-paper", "acct", "c-1") == "coinbase-paper.acct.order.c-1"
    assert m.paper_order_key("v", "a", "c").startswith(m.paper_order_prefix("v", "a"))


def test_reconciliation_reads_paper_records_with_the_types_execution_writes() -> None:
    """One definition: a field renamed in execution's record is renamed for reconciliation too."""
    read = get_type_hints(reconciliation_paper.PaperReader._kvs)["return"]
    assert get_args(read) == (TypedKV[m.PaperAccountState], TypedKV[m.PaperOrderRecord])
    assert get_type_hints(account_state)["return"] is m.PaperAccountState
    assert get_type_hints(execution_paper.PaperRecords.remember)["record"] is m.PaperOrderRecord


def test_the_paper_account_round_trips_through_kv() -> None:
    account = Account(account_id="acct")
    account.set_balance("USD", D("1000.5"))
    account.holds["USD"] = D("10")
    account.positions["BIT-28NOV25-CDE"] = Position(
        product_id="BIT-28NOV25-CDE", contracts=D("-2"), avg_entry_price=D("100000"), margin_held=D("50")
    )
    state = account_state(account, fills_booked=7)
    again = stored(wire(state), m.PaperAccountState)
    assert again == state
    fresh = Account(account_id="acct")
    restore_account(again, fresh, {"BIT-28NOV25-CDE": "USD"})
    assert fresh.balances["USD"] == D("1000.5")
    assert fresh.positions["BIT-28NOV25-CDE"].contracts == D("-2")
    assert fresh.hold("USD") == D("50")  # margin goes back on hold; order holds are rebuilt


def test_an_older_paper_order_record_reads_as_stored() -> None:
    order = next(x for x in every_message() if isinstance(x, m.Order))
    fill = next(x for x in every_message() if isinstance(x, m.Fill))
    older = {  # written before fills were numbered: no `fill_nos`
        "order": wire(order),
        "venue_order_id": "v-1",
        "status": "partially_filled",
        "fills": [wire(fill)],
        "reason": "",
    }
    record = stored(older, m.PaperOrderRecord)
    assert record.is_open
    assert record.numbered_fills == ()
    assert (record.filled_size, record.average_price) == (fill.size, fill.price)
    venue_order = reconciliation_paper.to_venue_order(record)
    assert venue_order.status is m.OrderStatus.PARTIALLY_FILLED
    assert (venue_order.filled_size, venue_order.average_price) == (fill.size, fill.price)
