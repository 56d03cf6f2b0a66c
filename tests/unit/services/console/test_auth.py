"""The console's login: scrypt hashes, and the password made once at first start."""

from __future__ import annotations

import stat
from pathlib import Path

from services.console.auth import LoginMode, hash_password, settle, verify_password
from services.console.config import ConsoleSettings


def test_hash_verifies_only_its_password() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("scrypt$")
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret!", stored)
    assert not verify_password("s3cret", "scrypt$bad")
    assert hash_password("s3cret") != stored  # salted


def test_first_start_makes_a_password_once(tmp_path: Path) -> None:
    settings = ConsoleSettings(password_file=str(tmp_path / "console" / "password"))
    first = settle(settings)
    assert first.mode is LoginMode.PASSWORD
    assert first.generated
    assert first.check(first.generated)
    stored = Path(settings.password_file)
    assert first.generated not in stored.read_text()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = settle(settings)
    assert again.generated == ""
    assert again.check(first.generated)


def test_configured_hash_and_proxy_win(tmp_path: Path) -> None:
    path = str(tmp_path / "never-written")
    assert settle(ConsoleSettings(password_hash=hash_password("x"), password_file=path)).check("x")
    assert (
        settle(ConsoleSettings(trusted_header="X-Forwarded-User", password_file=path)).mode is LoginMode.PROXY
    )
    assert not Path(path).exists()


def test_unwritable_password_file_leaves_the_console_read_only(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    login = settle(ConsoleSettings(password_file=str(blocker / "password")))
    assert login.mode is LoginMode.NONE
    assert "PASSWORD_HASH" in login.problem
    assert not login.check("anything")
