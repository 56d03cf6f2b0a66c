"""One table of NATS users and subject permissions, rendered into every place that needs it.

    python deploy/nats/gen_auth.py           # rewrite the three files below
    python deploy/nats/gen_auth.py --check   # exit 1 if any of them is out of date (a test runs this)

Outputs (do not edit them by hand, edit `USERS` here and re-run):
- `deploy/nats/nats-server.conf`  the compose server: passwords come from the environment ($RISK_PASSWORD …)
- `deploy/nats/local.conf`        the local `algopioneer up` server: fixed dev passwords `<user>-local`
- `deploy/k8s/nats-values.yaml`   values for the official NATS Helm chart (cluster of 3, JetStream on
                                  files), passwords from the Secret `algopioneer-nats`

The rule that matters (issue 7): only `risk` may publish `orders.approved.>` and only `execution` may
consume it (subscribe to it, create or pull a consumer on the APPROVED stream, read its messages).
Subjects mirror `shared/subjects.py`; stdlib only, so it runs without the project installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent

STREAMS = ("INTENTS", "DECISIONS", "APPROVED", "CANCELS", "ORDER_EVENTS", "FILLS", "RECON")
BUCKETS = (
    "positions",
    "risk_state",
    "risk_limits",
    "strategy_specs",
    "strategy_snapshots",
    "worker_leases",
    "exec_state",
    "paper_account",
    "services",
)
APPROVED = "orders.approved.>"


def _consumer_api(stream: str) -> list[str]:
    """What a client publishes to create, inspect, pull from and delete consumers of one stream."""
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"$JS.API.CONSUMER.INFO.{stream}.*",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.API.CONSUMER.DELETE.{stream}.*",
        f"$JS.API.CONSUMER.NAMES.{stream}",
        f"$JS.API.CONSUMER.LIST.{stream}",
        f"$JS.ACK.{stream}.>",
    ]


def _kv_read() -> list[str]:
    """Read and watch every bucket (gets, direct gets, ordered watch consumers)."""
    subjects: list[str] = []
    for bucket in BUCKETS:
        stream = f"KV_{bucket}"
        subjects += [
            f"$JS.API.DIRECT.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}.>",
            f"$JS.API.STREAM.MSG.GET.{stream}",
        ]
        subjects += _consumer_api(stream)
    return subjects


def _kv_write(*buckets: str) -> list[str]:
    return [f"$KV.{bucket}.>" for bucket in buckets]


# Every service provisions the streams and buckets at start (shared/streams.py), reads KV and answers
# flow control. Deleting or purging a stream is left to the operator.
JS_COMMON = [
    "$JS.API.INFO",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.CREATE.*",
    "$JS.API.STREAM.UPDATE.*",
    "$JS.FC.>",
    *_kv_read(),
]

# What nobody but execution may do with approved orders; listed as explicit denies so that a broad
# allow added later cannot reopen it.
APPROVED_CONSUME = [
    APPROVED,
    "$JS.API.CONSUMER.*.APPROVED",
    "$JS.API.CONSUMER.*.APPROVED.>",
    "$JS.API.CONSUMER.DURABLE.CREATE.APPROVED.*",
    "$JS.API.STREAM.MSG.GET.APPROVED",
    "$JS.API.DIRECT.GET.APPROVED",
    "$JS.API.DIRECT.GET.APPROVED.>",
    "$JS.ACK.APPROVED.>",
]
STREAM_ADMIN = ["$JS.API.STREAM.DELETE.*", "$JS.API.STREAM.PURGE.*", "$JS.API.STREAM.MSG.DELETE.*"]

# Replies: services subscribe to their own inbox for request/reply, JetStream acks and pull batches.
# TODO(issue 7): give each service its own inbox prefix (nats-py `inbox_prefix="_INBOX.<user>"` in the
# bus) and narrow this to `_INBOX.<user>.>`; with a shared `_INBOX.>` a client that guesses another
# one's inbox could read its replies.
INBOX = "_INBOX.>"


def _user(
    name: str,
    *,
    pub: list[str],
    sub: list[str],
    consume: tuple[str, ...] = (),
    kv: tuple[str, ...] = (),
    responder: bool = False,
) -> dict[str, object]:
    pub_allow = [*pub, *_kv_write(*kv, "services"), *JS_COMMON]
    for stream in consume:
        pub_allow += _consumer_api(stream)
    pub_deny = list(STREAM_ADMIN)
    sub_deny: list[str] = []
    if name != "risk":
        pub_deny.append(APPROVED)
    if name != "execution":
        pub_deny += [s for s in APPROVED_CONSUME if s != APPROVED]
        sub_deny.append(APPROVED)
    permissions: dict[str, object] = {
        "publish": {"allow": pub_allow, "deny": pub_deny},
        "subscribe": {"allow": [*sub, INBOX], "deny": sub_deny} if sub_deny else {"allow": [*sub, INBOX]},
    }
    if responder:
        permissions["allow_responses"] = True
    return {"user": name, "permissions": permissions}


USERS = [
    _user(
        "marketdata",
        pub=["md.>"],
        sub=["md.candles.>"],
        responder=True,  # answers candle warm-up requests
    ),
    _user(
        "strategy",
        pub=["orders.intent.>", "strategy.signal.>", "strategy.status.>"],
        sub=[
            "md.>",
            "risk.decision.>",
            "orders.event.>",
            "fills.>",
            "strategy.control.>",
            "risk.state",
            "risk.pnl",
        ],
        consume=("DECISIONS", "ORDER_EVENTS", "FILLS"),
        kv=("strategy_snapshots", "worker_leases"),
    ),
    _user(
        "risk",
        pub=["orders.approved.>", "orders.cancel.>", "risk.>"],
        sub=["orders.intent.>", "md.>", "orders.event.>", "fills.>", "risk.control", "risk.limits"],
        consume=("INTENTS", "ORDER_EVENTS", "FILLS"),
        kv=("positions", "risk_state", "risk_limits"),
        responder=True,  # answers halt/resume requests from the CLI
    ),
    _user(
        "execution",  # execution-paper and execution-coinbase
        pub=["orders.event.>", "fills.>"],
        sub=["md.>", "orders.cancel.>"],
        consume=("APPROVED", "CANCELS"),
        kv=("exec_state", "paper_account"),
    ),
    _user(
        "reconciliation",
        pub=["recon.>", "orders.intent.recon", "strategy.control.>"],
        sub=["orders.event.>", "fills.>", "risk.state"],
        consume=("ORDER_EVENTS", "FILLS"),
    ),
    _user(
        "operator",  # the `algopioneer` CLI: status, start/stop strategies, halt/resume, limits
        pub=["risk.control", "risk.limits", "strategy.control.>"],
        sub=["md.>", "orders.intent.>", "risk.>", "orders.event.>", "fills.>", "strategy.>", "recon.>"],
        consume=("INTENTS", "DECISIONS", "ORDER_EVENTS", "FILLS", "RECON"),
        kv=("strategy_specs", "risk_limits"),
    ),
]
USER_NAMES = [str(u["user"]) for u in USERS]


def password_var(user: str) -> str:
    """Environment variable holding a user's password on the compose / Kubernetes server."""
    return f"{user.upper()}_PASSWORD"


def local_password(user: str) -> str:
    """Password of a user on the local dev server (never used outside 127.0.0.1)."""
    return f"{user}-local"


def _conf_value(value: object, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        inner = "\n".join(f"{pad}  {k}: {_conf_value(v, indent + 1)}" for k, v in value.items())
        return "{\n" + inner + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "\n".join(f"{pad}  {_conf_value(v, indent + 1)}" for v in value)
        return "[\n" + inner + f"\n{pad}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith("$VAR:"):
        return value[len("$VAR:") :]  # an unquoted variable reference
    return json.dumps(value)


def _authorization(password: dict[str, str]) -> str:
    users = []
    for user in USERS:
        name = str(user["user"])
        users.append({"user": name, "password": password[name], "permissions": user["permissions"]})
    return "authorization: " + _conf_value({"users": users}, 0) + "\n"


HEADER = "# GENERATED by deploy/nats/gen_auth.py from its USERS table; edit there and re-run.\n"


def render_server_conf() -> str:
    passwords = {u: f"$VAR:${password_var(u)}" for u in USER_NAMES}
    return (
        HEADER
        + "# The compose NATS server. Each user's password comes from the environment variable\n"
        + "# <USER>_PASSWORD, which deploy/docker-compose.yml sets from one place for server and client.\n"
        + 'server_name: "algopioneer-nats"\n'
        + "listen: 0.0.0.0:4222\n"
        + "http: 0.0.0.0:8222\n"
        + 'jetstream: {store_dir: "/data", max_file_store: 10GB}\n'
        + "max_payload: 1MB\n"
        + _authorization(passwords)
    )


def render_local_conf() -> str:
    passwords = {u: local_password(u) for u in USER_NAMES}
    return (
        HEADER
        + "# The local dev server (`nats-server -c deploy/nats/local.conf -js -sd data/nats/jetstream`).\n"
        + "# Same users and permissions as the compose and Kubernetes servers; passwords are <user>-local.\n"
        + "listen: 127.0.0.1:4222\n"
        + _authorization(passwords)
    )


def _yaml(value: object, indent: int) -> list[str]:
    """A tiny YAML emitter for the values file (dicts, lists, scalars; JSON-quoted strings)."""
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
    return json.dumps(value)


def render_helm_values() -> str:
    users = []
    for user in USERS:
        name = str(user["user"])
        users.append(
            {"user": name, "password": f"<< ${password_var(name)} >>", "permissions": user["permissions"]}
        )
    env = {
        password_var(name): {"valueFrom": {"secretKeyRef": {"name": "algopioneer-nats", "key": name}}}
        for name in USER_NAMES
    }
    values = {
        "config": {
            "cluster": {"enabled": True, "replicas": 3},
            "jetstream": {
                "enabled": True,
                "fileStore": {"enabled": True, "dir": "/data", "pvc": {"enabled": True, "size": "10Gi"}},
            },
            "monitor": {"enabled": True, "port": 8222},
            "merge": {"max_payload": "<< 1MB >>", "authorization": {"users": users}},
        },
        "container": {"env": env},
        "natsBox": {"enabled": False},
        "promExporter": {"enabled": True, "port": 7777},
    }
    return (
        HEADER
        + "# Values for the official NATS Helm chart (nats/nats 1.x):\n"
        + "#   helm upgrade --install nats nats/nats -n <namespace> -f deploy/k8s/nats-values.yaml\n"
        + "# A 3-node cluster with JetStream on PVCs (services set ALGOPIONEER_NATS__STREAM_REPLICAS=3) and\n"
        + "# the same users and permissions as deploy/nats/nats-server.conf. Passwords come from the Secret\n"
        + "# `algopioneer-nats`, one key per user:\n"
        + "#   "
        + ", ".join(USER_NAMES)
        + "\n"
        + "# `<< $VAR >>` is the chart's syntax for an unquoted NATS config variable, resolved from the\n"
        + "# container environment (container.env below).\n"
        + "\n".join(_yaml(values, 0))
        + "\n"
    )


OUTPUTS = {
    HERE / "nats-server.conf": render_server_conf,
    HERE / "local.conf": render_local_conf,
    DEPLOY / "k8s" / "nats-values.yaml": render_helm_values,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, render in OUTPUTS.items():
        text = render()
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        names = ", ".join(str(p.relative_to(DEPLOY.parent)) for p in stale)
        print(f"out of date: {names}; run python deploy/nats/gen_auth.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
