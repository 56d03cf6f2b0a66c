"""Per-install NATS passwords for the live local stack: generated once, kept private, reused.

`algopioneer up --live` must never run on the committed `<user>-local` passwords. The first live
start generates a random password per user of `shared/nats/auth.py` into `credentials.json` (mode
0600); later starts reuse it (users added to the table since get one too) and render the server
config from it, also mode 0600. They are plain secrets in owner-only files, not bcrypt hashes: the
server and every service run as the installing user on one machine, and whoever can read the files
can already read the data folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from shared.errors import AlgopioneerError
from shared.nats import auth
from shared.nats.render import render_install_conf

CREDENTIALS_FILE = "credentials.json"
SERVER_CONF = "server.conf"
PRIVATE = 0o600


class CredentialsError(AlgopioneerError):
    """The install's credentials file exists but cannot be used; the message names it."""


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable and writable by the owner only (never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(staging, PRIVATE)  # the umask may only narrow it, but be explicit
    os.replace(staging, path)


def new_password() -> str:
    """A fresh random password (32 bytes of entropy, URL-safe, no quoting needed)."""
    return secrets.token_urlsafe(32)


def load_or_create(path: Path) -> dict[str, str]:
    """Every user's password from `path`, generating (and saving) the ones it does not hold yet."""
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read NATS credentials {path}: {exc}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in loaded.items()
        ):
            raise CredentialsError(f"{path} must map each NATS user to its password")
        stored = dict(loaded)
    committed = {u: auth.local_password(u) for u in auth.USER_NAMES}
    reused = [u for u, pw in stored.items() if committed.get(u) == pw]
    if reused:
        raise CredentialsError(f"{path} holds the committed local password of {', '.join(reused)}")
    passwords = {u: stored.get(u) or new_password() for u in auth.USER_NAMES}
    if passwords != stored:
        write_private(path, json.dumps(passwords, indent=2) + "\n")
    elif path.stat().st_mode & 0o777 != PRIVATE:
        os.chmod(path, PRIVATE)
    return passwords


def prepare(nats_dir: Path) -> tuple[dict[str, str], Path]:
    """The install's passwords, and the server config rendered with them (both files mode 0600)."""
    passwords = load_or_create(nats_dir / CREDENTIALS_FILE)
    conf = nats_dir / SERVER_CONF
    write_private(conf, render_install_conf(passwords))
    return passwords, conf
