"""The one table of NATS users and subject permissions, and the renderers of every server config.

Edit `USERS` here, then run `python deploy/nats/gen_auth.py` to rewrite the generated files:

- `shared/nats/permissions.conf`  the local paper stack and the integration tests (dev passwords
                                  `<user>-local`; `up --live` renders its own with per-install passwords,
                                  `render_install_conf` and `shared/nats/install.py`)
- `deploy/nats/local.conf`        the same server config, at the path the deploy docs name
- `deploy/nats/nats-server.conf`  the compose server; every password from the environment (`$RISK_PASSWORD` …)
- `deploy/k8s/nats-values.yaml`   values for the official NATS Helm chart; passwords from the Secret
                                  `algopioneer-nats`

`python deploy/nats/gen_auth.py --check` fails when any of them is out of date (a test runs it).

The rule everything else serves (issue 7): only `risk` may publish `orders.approved.>` and only
`execution` may consume it. How the table enforces it, and why each grant exists:

- Each `User` lists what the service does (read from `services/<name>/`): subjects it publishes (core
  or JetStream), subjects it subscribes to, streams it consumes (durable pull consumers, ordered
  "follow" consumers), KV buckets it reads and writes, and whether it answers requests. The renderer
  turns that into NATS allow lists; anything not listed is refused.
- JetStream API access is per stream: a user may create consumers, pull, ack and read messages only on
  the streams (and `KV_<bucket>` streams) it uses. Nobody but execution may touch the APPROVED
  stream's consumers or messages; those denials are explicit, so a broad allow added later cannot
  reopen them.
- Every service provisions the streams and buckets at start (`shared/streams.py`), so every user may
  CREATE the known streams by name (re-creating an existing stream with the same config is a no-op).
  UPDATING a stream, and creating any other one, is left to risk and admin: a stream with `republish`
  into `orders.approved.>` stores into APPROVED with the server's rights, a way round the subject
  permission. On a fresh server the first creator of a stream sets its config, so the stack
  provisions as a trusted user before the other services start (see `deploy/README.md`).
- Nobody, not even execution or admin, may *subscribe* to `orders.approved.>`: execution pulls from
  the stream through `_INBOX`, and a core subscription there would be the interest a push consumer
  needs to deliver stored messages into the subject with the server's rights (nats-server does not
  check a push consumer's deliver subject against its creator's permissions; nats-io/nats-server#8274).
- Deleting or purging streams, deleting messages, snapshots and restores: admin only.
- `_INBOX.>` is where replies, JetStream API answers and pull batches arrive; every user subscribes
  to it. Services that answer requests get `allow_responses` instead of a publish right on it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from shared import subjects

Account = Literal["ALGO", "SYS"]
Permissions = dict[str, object]
"""A NATS `permissions` block: `{"publish": {...}, "subscribe": {...}, "allow_responses": true}`."""

STREAMS: tuple[str, ...] = tuple(subjects.STREAM_SUBJECTS)
"""The order-path streams of `shared/subjects.py`."""
BUCKETS: tuple[str, ...] = subjects.KV_BUCKETS
"""Every KV bucket (each is the JetStream stream `KV_<bucket>`)."""
APPROVED = subjects.approved(subjects.REST)
ORDER_EVENTS = subjects.STREAM_SUBJECTS[subjects.STREAM_ORDER_EVENTS][0]
FILLS = subjects.STREAM_SUBJECTS[subjects.STREAM_FILLS][0]
INBOX = "_INBOX.>"


def kv_stream(bucket: str) -> str:
    """The JetStream stream behind a KV bucket."""
    return f"KV_{bucket}"


KNOWN_STREAMS: tuple[str, ...] = (*STREAMS, *(kv_stream(b) for b in BUCKETS))
"""Every stream `shared.streams.provision` creates, KV buckets included."""


@dataclass(frozen=True, slots=True)
class User:
    """One NATS user and what it may do. Subjects come from `shared.subjects`."""

    name: str
    """Login name; services take it from `ALGOPIONEER_NATS__USER`."""
    role: str
    """One line on who uses it (rendered as a comment)."""
    publish: tuple[str, ...] = ()
    """Subjects it publishes to, core NATS or JetStream (requests included)."""
    subscribe: tuple[str, ...] = ()
    """Core subscriptions (serving requests included); `_INBOX.>` is added for everyone."""
    consume: tuple[str, ...] = ()
    """Streams it creates consumers on, pulls from, acks and reads (durable or ordered)."""
    kv_read: tuple[str, ...] = ()
    """KV buckets it reads: get, keys, watch."""
    kv_write: tuple[str, ...] = ()
    """KV buckets it writes: put, create, update, delete (implies read: create and CAS updates read back)."""
    kv_put: tuple[str, ...] = ()
    """KV buckets it only puts into, never reads (the `services` heartbeat)."""
    responder: bool = False
    """It answers requests (`allow_responses`), so it may reply to the requester's inbox."""
    provision: bool = True
    """It runs `shared.streams.provision` at start: CREATE of the known streams by name."""
    manage_streams: bool = False
    """It may UPDATE the known streams (config migrations). A trusted user only: see the module doc."""
    superuser: bool = False
    """Everything except approving orders (tests and operators' maintenance)."""
    account: Account = "ALGO"
    """SYS is the system account (server monitoring), with no trading subjects."""
    deploy: bool = True
    """Present on the compose and Kubernetes servers too (not only the local one)."""


HEARTBEAT: tuple[str, ...] = (subjects.KV_SERVICES,)
"""Every service process puts its heartbeat into KV `services` (`shared/runtime.py` `_heartbeat`)."""


USERS: tuple[User, ...] = (
    User(
        "marketdata",
        "normalized market data (md.ticker/book/trade/status); answers candle requests",
        publish=("md.ticker.>", "md.book.>", "md.trade.>", "md.status.>"),
        subscribe=(subjects.candles_rpc(subjects.ANY),),
        kv_put=HEARTBEAT,
        responder=True,
    ),
    User(
        "strategy",
        "strategy workers: intents, signals, status; their own order events and fills; leases and snapshots",
        publish=(
            subjects.intent(subjects.REST),
            subjects.signal(subjects.ANY),
            subjects.strategy_status(subjects.ANY),
            subjects.candles_rpc(subjects.ANY),  # warm-up requests to marketdata
        ),
        subscribe=(
            "md.ticker.>",
            "md.book.>",
            "md.trade.>",
            "md.status.>",
            subjects.strategy_control(subjects.ANY),  # each worker serves the instances it owns
            subjects.decision(subjects.REST),  # read-only: a strategy may watch risk's answers
        ),
        consume=(
            subjects.STREAM_ORDER_EVENTS,
            subjects.STREAM_FILLS,
            subjects.STREAM_DECISIONS,
        ),  # strategy-<sid>-events/-fills/-decisions
        kv_read=(subjects.KV_PRODUCTS, subjects.KV_FEE_RATES),
        kv_write=(
            subjects.KV_STRATEGY_SPECS,  # set_enabled on stop
            subjects.KV_WORKER_LEASES,
            subjects.KV_STRATEGY_SNAPSHOTS,
        ),
        kv_put=HEARTBEAT,
        responder=True,  # answers strategy.control.<sid>
    ),
    User(
        "risk",
        "pre-trade checks; the only user that may publish orders.approved.>",
        publish=(
            APPROVED,
            subjects.cancel(subjects.ANY),
            subjects.intent(subjects.REST),  # flatten-on-halt intents go through the normal path
            subjects.decision(subjects.REST),
            subjects.RISK_STATE,
            subjects.RISK_PNL,
            subjects.RISK_LIMITS_CHANGED,
        ),
        subscribe=("md.ticker.>", subjects.RISK_CONTROL),
        consume=(
            subjects.STREAM_INTENTS,  # durable `risk`
            subjects.STREAM_DECISIONS,  # followed from the start, like fills and events
            subjects.STREAM_ORDER_EVENTS,
            subjects.STREAM_FILLS,
        ),
        # strategy specs: risk routes each intent by its strategy's own spec (order venue, enabled)
        kv_read=(subjects.KV_RISK_LIMITS, subjects.KV_PRODUCTS, subjects.KV_STRATEGY_SPECS),
        kv_write=(subjects.KV_POSITIONS, subjects.KV_RISK_STATE),
        kv_put=HEARTBEAT,
        responder=True,  # halt / resume / status from the CLI
        manage_streams=True,
    ),
    User(
        "execution",
        "execution-paper and execution-coinbase; the only user that may consume orders.approved.>",
        publish=(ORDER_EVENTS, FILLS),
        subscribe=("md.ticker.>", "md.book.>", "md.trade.>"),  # the paper venue matches on market data
        consume=(subjects.STREAM_APPROVED, subjects.STREAM_CANCELS),
        kv_read=(subjects.KV_RISK_STATE,),  # the halt epoch: older approvals are refused
        kv_write=(
            subjects.KV_PRODUCTS,
            subjects.KV_FEE_RATES,
            subjects.KV_EXEC_STATE,
            subjects.KV_PAPER_ACCOUNT,
        ),
        kv_put=HEARTBEAT,
    ),
    User(
        "reconciliation",
        "compares the venue with the bus: reports, missing fills/events, corrective intents",
        publish=(
            subjects.recon_report(subjects.ANY),
            FILLS,
            ORDER_EVENTS,
            subjects.intent(subjects.REST),
            subjects.strategy_control(subjects.ANY),  # requests: resolve an instance
        ),
        consume=(
            subjects.STREAM_INTENTS,
            subjects.STREAM_DECISIONS,  # risk's answers to its corrective intents
            subjects.STREAM_ORDER_EVENTS,
            subjects.STREAM_FILLS,
            subjects.STREAM_STATUS,
        ),
        kv_read=(
            subjects.KV_STRATEGY_SPECS,
            subjects.KV_PAPER_ACCOUNT,
            subjects.KV_WORKER_LEASES,  # naked-leg backstop: which instances no worker runs
            subjects.KV_STRATEGY_SNAPSHOTS,  # ... and their max_unhedged_ms once the spec is gone
        ),
        kv_write=(subjects.KV_EXEC_STATE,),
        kv_put=HEARTBEAT,
    ),
    User(
        "exchange-sim",
        "the simulator speaks HTTP/WebSocket; at most a heartbeat on NATS",
        kv_put=HEARTBEAT,
        deploy=False,
    ),
    User(
        "cli",
        "the algopioneer CLI: status and dashboard, strategy specs, halt/resume, risk limits",
        publish=(
            subjects.RISK_CONTROL,
            subjects.strategy_control(subjects.ANY),
            subjects.candles_rpc(subjects.ANY),
        ),
        subscribe=(
            "md.ticker.>",
            "md.status.>",
            subjects.strategy_status(subjects.ANY),
            subjects.signal(subjects.ANY),
            subjects.decision(subjects.REST),
            subjects.RISK_STATE,
            subjects.RISK_PNL,
            subjects.intent(subjects.REST),
            ORDER_EVENTS,
            FILLS,
            subjects.recon_report(subjects.ANY),
        ),
        consume=(
            subjects.STREAM_INTENTS,
            subjects.STREAM_DECISIONS,
            subjects.STREAM_ORDER_EVENTS,
            subjects.STREAM_FILLS,
            subjects.STREAM_RECON,
            subjects.STREAM_STATUS,
        ),
        kv_read=(
            subjects.KV_SERVICES,
            subjects.KV_RISK_STATE,
            subjects.KV_POSITIONS,
            subjects.KV_PRODUCTS,
            subjects.KV_WORKER_LEASES,
            subjects.KV_STRATEGY_SNAPSHOTS,
        ),
        kv_write=(subjects.KV_STRATEGY_SPECS, subjects.KV_RISK_LIMITS),
    ),
    User(
        "admin",
        "tests and operators' maintenance: everything except approving orders (not even admin may)",
        superuser=True,
    ),
    User("sys", "the system account: server monitoring only", account="SYS", provision=False, deploy=False),
)
"""Every user, in the order the configs list them."""

BY_NAME: dict[str, User] = {u.name: u for u in USERS}
USER_NAMES: tuple[str, ...] = tuple(u.name for u in USERS)
DEPLOY_USERS: tuple[User, ...] = tuple(u for u in USERS if u.deploy)


# ---- JetStream API subjects ----


def consumer_api(stream: str) -> list[str]:
    """What a client publishes to create, inspect, pull from, ack and delete consumers of one stream."""
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"$JS.API.CONSUMER.INFO.{stream}.*",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.API.CONSUMER.DELETE.{stream}.*",
        f"$JS.API.CONSUMER.NAMES.{stream}",
        f"$JS.API.CONSUMER.LIST.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


JS_READ_ONLY = [
    "$JS.API.INFO",
    "$JS.API.STREAM.NAMES",  # finding the stream of a subject (ordered consumers)
    *(f"$JS.API.STREAM.INFO.{s}" for s in KNOWN_STREAMS),
]
JS_FLOW_CONTROL = "$JS.FC.>"
"""Flow-control replies of push (ordered, KV watch) consumers."""

APPROVED_CONSUME = [
    f"$JS.API.CONSUMER.*.{subjects.STREAM_APPROVED}",
    f"$JS.API.CONSUMER.*.{subjects.STREAM_APPROVED}.>",
    f"$JS.API.CONSUMER.*.*.{subjects.STREAM_APPROVED}",  # DURABLE.CREATE.APPROVED
    f"$JS.API.CONSUMER.*.*.{subjects.STREAM_APPROVED}.>",
    f"$JS.ACK.{subjects.STREAM_APPROVED}.>",
    f"$JS.API.STREAM.MSG.GET.{subjects.STREAM_APPROVED}",
    f"$JS.API.DIRECT.GET.{subjects.STREAM_APPROVED}",
    f"$JS.API.DIRECT.GET.{subjects.STREAM_APPROVED}.>",
]
"""Reading or consuming approved orders: nobody but execution (explicit denies)."""
STREAM_ADMIN = [
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.STREAM.SNAPSHOT.>",
    "$JS.API.STREAM.RESTORE.>",
]
"""Destructive stream operations: admin only."""
STREAM_UPDATE = "$JS.API.STREAM.UPDATE.>"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def permissions(user: User) -> Permissions:
    """The NATS `permissions` block of one user."""
    if user.account == "SYS":
        return {"publish": {"deny": [">"]}, "subscribe": {"allow": ["$SYS.>", INBOX]}}
    if user.superuser:
        return {
            "publish": {"allow": [">"], "deny": [APPROVED]},
            "subscribe": {"allow": [">"], "deny": [APPROVED]},
        }
    read = _unique([*user.kv_read, *user.kv_write])
    consumable = [*user.consume, *(kv_stream(b) for b in read)]
    allow = [*user.publish, *(f"$KV.{b}.>" for b in _unique([*user.kv_write, *user.kv_put]))]
    if user.provision or consumable or user.kv_put:
        allow += JS_READ_ONLY
    if user.provision:
        allow += [f"$JS.API.STREAM.CREATE.{s}" for s in KNOWN_STREAMS]
    if user.manage_streams:
        allow += [f"$JS.API.STREAM.UPDATE.{s}" for s in KNOWN_STREAMS]
    for stream in consumable:
        allow += consumer_api(stream)
    if consumable:
        allow.append(JS_FLOW_CONTROL)
    deny: list[str] = []
    if user.name != "risk":
        deny.append(APPROVED)
    if user.name != "execution":
        deny += APPROVED_CONSUME
    deny += STREAM_ADMIN
    if not user.manage_streams:
        deny.append(STREAM_UPDATE)
    block: Permissions = {
        "publish": {"allow": _unique(allow), "deny": deny},
        "subscribe": {"allow": _unique([*user.subscribe, INBOX]), "deny": [APPROVED]},
    }
    if user.responder:
        block["allow_responses"] = True
    return block


# ---- rendering ----

GENERATED = (
    "# GENERATED from shared/nats/auth.py by deploy/nats/gen_auth.py; edit the table there and re-run.\n"
)


def local_password(user: str) -> str:
    """A user's password on the local dev server (127.0.0.1 only)."""
    return f"{user}-local"


def password_var(user: str) -> str:
    """Environment variable holding a user's password on the compose / Kubernetes server."""
    return f"{user.upper().replace('-', '_')}_PASSWORD"


class Var(str):
    """A config variable reference (`$RISK_PASSWORD`), rendered unquoted."""

    __slots__ = ()


def dotenv_var(user: str) -> str:
    """The compose `.env` variable holding a user's password (`NATS_RISK_PASSWORD`)."""
    return f"NATS_{password_var(user)}"


def new_dotenv() -> str:
    """Fresh random passwords for every deploy user, as `.env` lines for docker compose."""
    return "".join(f"{dotenv_var(u.name)}={secrets.token_hex(16)}\n" for u in DEPLOY_USERS)


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


def _yaml(value: object, indent: int) -> list[str]:
    """A tiny YAML emitter (dicts, lists, scalars; strings JSON-quoted, which YAML reads as-is)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + 1)
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub = _yaml(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines += sub[1:]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
        + "# container environment (container.env below).\n"
        + "\n".join(_yaml(values, 0))
        + "\n"
    )
