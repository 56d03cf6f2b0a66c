"""Notification settings from the environment, with errors that name the field and never a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.notify.config import NotifySettings
from shared.config import load_settings
from shared.errors import ConfigError


def settings(**env: str) -> NotifySettings:
    return load_settings(
        NotifySettings, section="notify", environ={f"ALGOPIONEER_NOTIFY__{k}": v for k, v in env.items()}
    )


def test_urls_kind_flags_and_intervals_come_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "urls"
    secret.write_text("# mounted secret\ntgram://bot/chat\n\n")
    s = settings(
        URLS="json://127.0.0.1:9/a mailto://u:p@example.invalid",
        URLS_FILE=str(secret),
        FILLS__ENABLED="false",
        HALTS__MIN_INTERVAL_S="0",
        NOT_READY_AFTER_S="30",
        DAILY_SUMMARY_UTC="07:30",
    )
    assert s.all_urls() == ["json://127.0.0.1:9/a", "mailto://u:p@example.invalid", "tgram://bot/chat"]
    assert s.fills.enabled is False
    assert s.halts.min_interval_s == 0
    assert s.not_ready_after_s == 30
    assert s.daily_summary_minute == 7 * 60 + 30


def test_defaults_send_nothing_and_a_missing_urls_file_adds_none() -> None:
    s = settings(URLS_FILE="/nonexistent/urls")
    assert s.all_urls() == []
    assert s.fills.min_interval_s == 60


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"DAILY_SUMMARY_UTC": "24:00"}, "daily_summary_utc"),
        ({"FILLS__MIN_INTERVAL_S": "-1"}, "fills.min_interval_s"),
        ({"NOT_READY_AFTER_S": "0"}, "not_ready_after_s"),
        ({"URLS": "sk-secret-token"}, "urls"),
    ],
)
def test_a_bad_value_names_its_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings(**env)
    assert str(error.value).startswith(f"invalid config: {field}")
    assert "sk-secret" not in str(error.value)
