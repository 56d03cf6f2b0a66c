"""The one table of NATS users and subject permissions: who may publish, subscribe, consume and
write what, and where each user's password comes from. `shared/nats/render.py` turns it into files.

Edit `USERS` here, then run `python deploy/nats/gen_auth.py` to rewrite the generated files:

- `shared/nats/permissions.conf`  the local paper stack and the integration tests (dev passwords
                                  `<user>-local`; `up --live` renders its own with per-install passwords,
                                  `shared/nats/install.py`)
- `deploy/nats/local.conf`        the same server config, at the path the deploy docs name
- `deploy/nats/nats-server.conf`  the compose server; every password from the environment (`$RISK_PASSWORD` …)
- `deploy/k8s/nats-values.yaml`   values for the official NATS Helm chart; passwords from the Secret
                                  `algopioneer-nats`

`python deploy/nats/gen_auth.py --check` fails when any of them is out of date (a test runs it).

The rule everything else serves (issue 7): only `risk` may publish `orders.approved.>` and only
`execution` may consume it. How the table enforces it, and why each grant exists:

- Each `User` lists what the service does (read from `services/<name>/`): subjects it publishes (core
  or JetStream), subjects it subscribes to, streams it consumes (durable pull consumers, ordered
  "follow" consumers), KV buckets it reads and writes, and whether it answers requests.
  `permissions` turns that into NATS allow lists; anything not listed is refused.
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
        "strategy workers: intents, cancels, signals, status; their own order events and fills; leases and snapshots",
        publish=(
            subjects.intent(subjects.REST),
            subjects.strategy_cancel(subjects.ANY, subjects.ANY),  # its own resting orders only
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
        kv_read=(subjects.KV_PRODUCTS, subjects.KV_FEE_RATES, subjects.KV_STRATEGY_CODE),  # plug-in sources
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
        "notify",
        "notifications: read-only (fills, risk state and PnL, recon reports, heartbeats); no trading subject",
        subscribe=(subjects.RISK_STATE, subjects.RISK_PNL, subjects.recon_report(subjects.ANY)),
        consume=(subjects.STREAM_FILLS,),  # durable `notify`, new fills only
        kv_read=(subjects.KV_SERVICES, subjects.KV_RISK_STATE),  # readiness; the state and PnL at start
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
        kv_write=(subjects.KV_STRATEGY_SPECS, subjects.KV_RISK_LIMITS, subjects.KV_STRATEGY_CODE),
    ),
    User(
        "console",
        "the web console: reads what the operator sees; halt/resume and an instance's enabled flag",
        publish=(subjects.RISK_CONTROL,),  # requests only, as the CLI's halt / resume
        subscribe=(
            "md.status.>",
            subjects.RISK_STATE,
            subjects.RISK_PNL,
            ORDER_EVENTS,
            FILLS,
        ),
        consume=(subjects.STREAM_STATUS,),  # instance statuses, last value of each
        kv_read=(
            subjects.KV_SERVICES,
            subjects.KV_RISK_STATE,
            subjects.KV_WORKER_LEASES,
        ),
        kv_write=(subjects.KV_STRATEGY_SPECS,),  # stop / start: the spec's `enabled` flag
        kv_put=HEARTBEAT,
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


# ---- passwords: the names every renderer and the launcher agree on ----


def local_password(user: str) -> str:
    """A user's password on the local dev server (127.0.0.1 only)."""
    return f"{user}-local"


def password_var(user: str) -> str:
    """Environment variable holding a user's password on the compose / Kubernetes server."""
    return f"{user.upper().replace('-', '_')}_PASSWORD"


def dotenv_var(user: str) -> str:
    """The compose `.env` variable holding a user's password (`NATS_RISK_PASSWORD`)."""
    return f"NATS_{password_var(user)}"
