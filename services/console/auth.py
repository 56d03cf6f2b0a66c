"""Who may act from the console: a password (scrypt-hashed, never stored in clear) or the user's
own authenticating proxy. `python -m services.console.auth` prints the hash of a password typed in,
for `ALGOPIONEER_CONSOLE__PASSWORD_HASH`.
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.console.config import ConsoleSettings
from shared.nats.install import write_private

# scrypt's interactive-login cost (RFC 7914 suggests N=2^14, r=8, p=1): ~50 ms per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt hex>$<key hex>`: everything a later check needs."""
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` hashes to `stored` (compared in constant time); False for a bad hash."""
    try:
        scheme, n, r, p, salt, key = stored.strip().split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * int(n) * int(r) * int(p) + 2**20,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


class LoginMode(enum.StrEnum):
    """How actions are authorised."""

    PASSWORD = "password"  # noqa: S105 (a login mode, not a password)
    PROXY = "proxy"
    NONE = "none"
    """No password could be set (read-only file system, no hash configured): read-only console."""


@dataclass(frozen=True)
class Login:
    """The console's login, as settled at start."""

    mode: LoginMode
    password_hash: str = ""
    generated: str = ""
    """A password made on this start (print it once, then forget it); empty otherwise."""
    problem: str = ""
    """Why there is no login (mode NONE)."""

    def check(self, password: str) -> bool:
        """True for the operator's password."""
        return self.mode is LoginMode.PASSWORD and verify_password(password, self.password_hash)


def settle(settings: ConsoleSettings) -> Login:
    """The login for these settings: proxy header, configured hash, stored hash, or a new password."""
    if settings.trusted_header:
        return Login(LoginMode.PROXY)
    if settings.password_hash:
        return Login(LoginMode.PASSWORD, settings.password_hash)
    path = Path(settings.password_file)
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    except OSError as exc:
        return Login(
            LoginMode.NONE, problem=f"cannot read {path} ({exc}); set ALGOPIONEER_CONSOLE__PASSWORD_HASH"
        )
    if stored:
        return Login(LoginMode.PASSWORD, stored)
    password = secrets.token_urlsafe(12)
    hashed = hash_password(password)
    try:
        write_private(path, hashed + "\n")
    except OSError as exc:
        return Login(
            LoginMode.NONE,
            problem=f"cannot write {path} ({exc}); set ALGOPIONEER_CONSOLE__PASSWORD_HASH",
        )
    return Login(LoginMode.PASSWORD, hashed, generated=password)


def main() -> None:
    """Print the hash of a password typed twice (or given in `CONSOLE_PASSWORD`)."""
    password = os.environ.get("CONSOLE_PASSWORD") or getpass.getpass("console password: ")
    if "CONSOLE_PASSWORD" not in os.environ and getpass.getpass("again: ") != password:
        raise SystemExit("the two passwords differ")
    print(hash_password(password))


if __name__ == "__main__":
    main()
