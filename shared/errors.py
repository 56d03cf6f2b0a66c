"""A shallow error tree: one base class, classed by what the caller should do about it."""

from __future__ import annotations


class AlgopioneerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(AlgopioneerError):
    """A setting is missing or wrong; the message names the field. Fatal at start."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid config: {field}: {problem}")


class BusUnavailableError(AlgopioneerError):
    """NATS could not be reached; the message says where we looked."""


class RevisionConflictError(AlgopioneerError):
    """A compare-and-set on a KV key lost: the key is not at the revision the writer expected (or,
    for a create, it already exists). Someone else wrote first; re-read before deciding again."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"revision conflict on {key!r}: {detail}")


class MoneyError(AlgopioneerError, ValueError):
    """A price or size that is not a finite Decimal, or not on the product's grid."""


class InvalidSubjectTokenError(AlgopioneerError, ValueError):
    """A subject token (venue, product, strategy id) contains characters NATS treats specially."""


class RetryLaterError(AlgopioneerError):
    """A work-queue handler cannot decide *yet* (e.g. prices not fresh after a restart): the message
    goes back to the queue for a later delivery instead of being answered or dropped."""

    def __init__(self, reason: str, delay_s: float = 0.5) -> None:
        self.reason = reason
        self.delay_s = delay_s
        super().__init__(reason)


class VenueError(AlgopioneerError):
    """A venue (Coinbase, the simulator's core or the paper venue) failed or refused a request.

    The base of execution's and the venue core's errors; subclasses say whether to retry.
    """

    status: int = 0
    """HTTP status when there was a response (0 for transport errors and the in-process venues)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class OrderRejectedError(VenueError):
    """One order was refused (by a venue or by our own pre-trade checks); nothing was created.

    `reason` is a Coinbase `new_order_failure_reason` (or our own code in that style) and
    `preview_reason` the matching `preview_failure_reason`, so a simulator can render the exact
    HTTP-200 rejection body.
    """

    def __init__(
        self, reason: str, detail: str = "", preview_reason: str = "UNKNOWN_PREVIEW_FAILURE_REASON"
    ) -> None:
        self.reason = reason
        self.detail = detail
        self.preview_reason = preview_reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
