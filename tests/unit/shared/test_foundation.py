"""Pure parts of the foundation: config precedence and errors, secrets, subjects, money, ids."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from shared import subjects
from shared.config import CoinbaseCredentials, ServiceSettings, load_settings
from shared.errors import ConfigError, InvalidSubjectTokenError, MoneyError
from shared.messages import client_order_id
from shared.money import is_on_grid, require_on_grid, round_to_increment, to_decimal
from shared.telemetry import configure_logging


class DemoSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    depth: int = 10
    fee: Decimal = Decimal("0.006")


def test_environment_beats_file_beats_defaults(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text(
        '[nats]\nurl = "nats://file:1"\n[http]\nport = 9000\n[demo]\ndepth = 5\n[demo.http]\nport = 9100\n'
    )
    env = {
        "ALGOPIONEER_CONFIG": str(config),
        "ALGOPIONEER_DEMO__FEE": "0.0050",
        "ALGOPIONEER_OTHER__X": "ignored",
    }
    settings = load_settings(DemoSettings, section="demo", environ=env)
    assert settings.nats.url == "nats://file:1"
    assert settings.http.port == 9100  # the service's own table overrides the common one
    assert settings.depth == 5
    assert settings.fee == Decimal("0.0050")
    settings = load_settings(DemoSettings, section="demo", environ={**env, "NATS_URL": "nats://env:2"})
    assert settings.nats.url == "nats://env:2"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"ALGOPIONEER_DEMO__DEPTH": "deep"}, "depth"),
        ({"ALGOPIONEER_DEMO__FEE": "lots"}, "fee"),
        ({"ALGOPIONEER_NATS__CONNECT_TIMEOUT_S": "-1"}, "nats.connect_timeout_s"),
        ({"ALGOPIONEER_LOG__LEVEL": "chatty"}, "log.level"),
        ({"ALGOPIONEER_NATS__URLL": "x"}, "nats.urll"),
    ],
)
def test_config_errors_name_the_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(DemoSettings, section="demo", environ=env)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"invalid config: {field}:")


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(
            DemoSettings, section="demo", environ={"ALGOPIONEER_CONFIG": str(tmp_path / "none.toml")}
        )
    broken = tmp_path / "b.toml"
    broken.write_text("[demo\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(DemoSettings, section="demo", environ={"ALGOPIONEER_CONFIG": str(broken)})


def test_secrets_never_reach_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"
    creds = CoinbaseCredentials.from_environment(
        {"COINBASE_API_KEY": "organizations/o/apiKeys/k", "COINBASE_API_SECRET": secret}
    )
    assert creds is not None
    assert creds.reveal_secret() == secret
    assert "MHcCAQEE" not in repr(creds)
    configure_logging("test")
    structlog.get_logger().info(
        "connecting", api_secret=secret, nats_password="hunter2", credentials=repr(creds)
    )
    out = capsys.readouterr().out
    line = json.loads(out.splitlines()[-1])
    assert "MHcCAQEE" not in out
    assert "hunter2" not in out
    assert line["event"] == "connecting"
    assert CoinbaseCredentials.from_environment({"COINBASE_API_KEY": "k"}) is None


def test_subject_tokens_are_validated() -> None:
    assert subjects.ticker("coinbase", "BTC-USD") == "md.ticker.coinbase.BTC-USD"
    assert subjects.order_event(subjects.ANY, "pairs-1") == "orders.event.*.pairs-1"
    for bad in ("BTC.USD", "BTC USD", "", ">x", "a*"):
        with pytest.raises(InvalidSubjectTokenError):
            subjects.ticker("coinbase", bad)


def test_money_parsing_and_grid() -> None:
    assert to_decimal("0.10") == Decimal("0.10")
    for bad in (float("nan"), 0.1, "NaN", "inf", "-Infinity", "abc", True):
        with pytest.raises(MoneyError):
            to_decimal(bad)
    assert round_to_increment(Decimal("0.123456789"), Decimal("0.00000001")) == Decimal("0.12345678")
    assert round_to_increment(Decimal("12"), Decimal("5")) == Decimal("10")
    assert round_to_increment(Decimal("12"), Decimal("5"), mode="up") == Decimal("15")
    assert is_on_grid(Decimal("0.03"), Decimal("0.01"))
    assert not is_on_grid(Decimal("0.015"), Decimal("0.01"))
    with pytest.raises(MoneyError, match=r"size: 0\.015 is not a multiple of 0\.01"):
        require_on_grid(Decimal("0.015"), Decimal("0.01"), field="size")


def test_client_order_id_is_deterministic_and_distinct() -> None:
    assert client_order_id("s", 1, 0) == client_order_id("s", 1, 0)
    assert len({client_order_id("s", seq, leg) for seq in range(50) for leg in (0, 1)}) == 100
