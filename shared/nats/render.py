"""Every file rendered from the permissions table of `shared/nats/auth.py`.

NATS server configs (the local dev server, the live install's, the compose server), the compose
`.env` passwords and the values of the official NATS Helm chart. Stdlib only: `deploy/nats/gen_auth.py`
runs on a bare python3. The Helm values are written as JSON, which is YAML (no YAML writer needed).
"""

from __future__ import annotations

import json
import secrets

from shared.nats.auth import DEPLOY_USERS, USERS, User, dotenv_var, local_password, password_var, permissions

GENERATED = (
    "# GENERATED from shared/nats/auth.py by deploy/nats/gen_auth.py; edit the table there and re-run.\n"
)


class Var(str):
    """A config variable reference (`$RISK_PASSWORD`), rendered unquoted."""

    __slots__ = ()


def new_dotenv() -> str:
    """Fresh random passwords for every deploy user, as `.env` lines for docker compose."""
    return "".join(f"{dotenv_var(u.name)}={secrets.token_hex(16)}\n" for u in DEPLOY_USERS)


# ---- NATS server configs ----


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _conf(value: object, indent: int) -> str:
    """NATS config syntax for dicts, lists, strings, booleans; `$VAR` strings stay unquoted."""
    pad = "  " * indent
    if isinstance(value, dict):
        inner = "\n".join(f"{pad}  {k}: {_conf(v, indent + 1)}" for k, v in value.items())
        return "{\n" + inner + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "\n".join(f"{pad}  {_conf(v, indent + 1)}" for v in value)
        return "[\n" + inner + f"\n{pad}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Var):
        return str(value)  # a variable reference, resolved by the server from its environment
    return _quote(str(value))


def user_entry(user: User, password: str) -> dict[str, object]:
    """A `users` list entry: login, password and permissions."""
    entry: dict[str, object] = {"user": user.name, "password": password}
    if user.account != "SYS":
        entry["permissions"] = permissions(user)
    return entry


def _accounts(users: tuple[User, ...], password: dict[str, str]) -> str:
    """The `accounts` block; SYS (and `system_account`) only when a SYS user is rendered, otherwise
    the server keeps its default system account."""
    has_sys = any(u.account == "SYS" for u in users)
    lines = ["system_account: SYS", "", "accounts: {"] if has_sys else ["accounts: {"]
    for account in ("SYS", "ALGO") if has_sys else ("ALGO",):
        members = [u for u in users if u.account == account]
        lines.append(f"  {account}: {{")
        if account == "ALGO":
            lines.append("    jetstream: enabled")
        lines.append("    users: [")
        for u in members:
            lines.append(f"      # {u.name}: {u.role}")
            lines.append("      " + _conf(user_entry(u, password[u.name]), 3))
        lines += ["    ]", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_local_conf(source: str) -> str:
    """The local dev server (`algopioneer up`, integration tests): passwords `<user>-local`."""
    return (
        GENERATED
        + f"# {source}: the local stack's and the tests' NATS server. Start it as\n"
        + f"#   nats-server -js -sd data/nats/jetstream -c {source}\n"
        + f'#   (tests: shared.natsserver.NatsServer(data_dir, config_file="{source}"); the command\n'
        + "#   line's -a/-p/-js/-sd override the listen address and store below)\n"
        + "# Services log in with ALGOPIONEER_NATS__USER=<user> and ALGOPIONEER_NATS__PASSWORD=<user>-local.\n"
        + "# These passwords are for 127.0.0.1 only; the deploy configs take theirs from secrets.\n"
        + "listen: 127.0.0.1:4222\n"
        + "max_payload: 1MB\n"
        + "jetstream: {max_file_store: 10GB}\n"
        + _accounts(USERS, {u.name: local_password(u.name) for u in USERS})
    )


def render_install_conf(passwords: dict[str, str]) -> str:
    """The live local server (`algopioneer up --live`): every user with its per-install password.

    Written by the launcher into the data folder with mode 0600, never committed. The passwords
    are plain random secrets in that private file (not bcrypt hashes): the file and
    `credentials.json` beside it are readable by the installing user only."""
    missing = [u.name for u in USERS if not passwords.get(u.name)]
    if missing:
        raise ValueError(f"no password for {', '.join(missing)}")
    return (
        "# Rendered by `algopioneer up --live` from shared/nats/auth.py with this install's own passwords\n"
        + "# (credentials.json beside it). Private to this install: mode 0600, never commit or share it.\n"
        + "listen: 127.0.0.1:4222\n"
        + "max_payload: 1MB\n"
        + "jetstream: {max_file_store: 10GB}\n"
        + _accounts(USERS, passwords)
    )


def render_server_conf() -> str:
    """The compose server: every password from the environment variable `<USER>_PASSWORD`."""
    return (
        GENERATED
        + "# The compose NATS server. Each user's password comes from the environment variable\n"
        + "# <USER>_PASSWORD, which deploy/docker-compose.yml sets from one place for server and client;\n"
        + "# the server refuses to start when one is missing.\n"
        + 'server_name: "algopioneer-nats"\n'
        + "listen: 0.0.0.0:4222\n"
        + "http: 0.0.0.0:8222\n"
        + 'jetstream: {store_dir: "/data", max_file_store: 10GB}\n'
        + "max_payload: 1MB\n"
        + _accounts(DEPLOY_USERS, {u.name: Var(f"${password_var(u.name)}") for u in DEPLOY_USERS})
    )


# ---- Helm values ----


def helm_accounts() -> dict[str, object]:
    """The `accounts` block of the Helm values (passwords as `<< $VAR >>` chart variables)."""
    users = [user_entry(u, f"<< ${password_var(u.name)} >>") for u in DEPLOY_USERS if u.account == "ALGO"]
    return {"ALGO": {"jetstream": "enabled", "users": users}}


def render_helm_values() -> str:
    """Values for the official NATS Helm chart: 3-node JetStream cluster, the same users."""
    env = {
        password_var(u.name): {"valueFrom": {"secretKeyRef": {"name": "algopioneer-nats", "key": u.name}}}
        for u in DEPLOY_USERS
    }
    values = {
        "config": {
            "cluster": {"enabled": True, "replicas": 3},
            "jetstream": {
                "enabled": True,
                "fileStore": {"enabled": True, "dir": "/data", "pvc": {"enabled": True, "size": "10Gi"}},
            },
            "monitor": {"enabled": True, "port": 8222},
            "merge": {
                "max_payload": "<< 1MB >>",
                "accounts": helm_accounts(),
            },
        },
        "container": {"env": env},
        "natsBox": {"enabled": False},
        "promExporter": {"enabled": True, "port": 7777},
    }
    return (
        GENERATED
        + "# Values for the official NATS Helm chart (nats/nats 1.x):\n"
        + "#   helm upgrade --install nats nats/nats -n <namespace> -f deploy/k8s/nats-values.yaml\n"
        + "# A 3-node cluster with JetStream on PVCs (services set ALGOPIONEER_NATS__STREAM_REPLICAS=3) and\n"
        + "# the same users and permissions as deploy/nats/nats-server.conf. Passwords come from the Secret\n"
        + "# `algopioneer-nats`, one key per user:\n"
        + "#   "
        + ", ".join(u.name for u in DEPLOY_USERS)
        + "\n"
        + "# `<< $VAR >>` is the chart's syntax for an unquoted NATS config variable, resolved from the\n"
        + "# container environment (container.env below). Written as JSON, which YAML reads as it is.\n"
        + json.dumps(values, indent=2)
        + "\n"
    )
