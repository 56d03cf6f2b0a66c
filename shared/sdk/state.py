"""A strategy's own state: its attributes, pickled, with a fingerprint of the code and params.

The user writes no snapshot code: whatever a strategy keeps on `self` (except `params`) is its
state. It is restored only into the same class source and the same params (the fingerprint);
otherwise the strategy starts fresh and warms up again, as a built-in does when its params change.
Positions and orders are the framework's and never depend on this.

Pickle is used because indicator objects, deques and Decimals must survive as they are. Snapshots
are written and read only by strategy workers (the `strategy_snapshots` bucket is theirs), so
loading one runs no code that a worker could not already run.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import pickle
from typing import Any

import msgspec

from shared.messages.strategy import Params

_PARAMS = "params"


class StateError(ValueError):
    """A strategy's state cannot be saved (an attribute that does not pickle) or restored."""


def fingerprint(strategy_type: type[Any], params: Params) -> str:
    """Identity of the code and params a state belongs to (hex sha256)."""
    digest = hashlib.sha256()
    digest.update(f"{strategy_type.__module__}:{strategy_type.__qualname__}\n".encode())
    with contextlib.suppress(OSError, TypeError):  # no source (a frozen build): the name must do
        digest.update(inspect.getsource(strategy_type).encode())
    digest.update(msgspec.json.encode(params))
    return digest.hexdigest()


def dump_state(strategy: Any) -> bytes:
    """The strategy's attributes except `params`, pickled."""
    state = {k: v for k, v in vars(strategy).items() if k != _PARAMS}
    try:
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        names = ", ".join(sorted(state))
        raise StateError(f"{type(strategy).__name__} state cannot be saved ({names}): {exc}") from exc


def load_state(strategy: Any, blob: bytes) -> None:
    """Put attributes saved by `dump_state` back on `strategy`."""
    try:
        state = pickle.loads(blob)  # noqa: S301 - written by strategy workers only (see module doc)
    except Exception as exc:  # any unpickling failure means: start fresh
        raise StateError(f"{type(strategy).__name__} state cannot be restored: {exc}") from exc
    if not isinstance(state, dict):
        raise StateError(f"{type(strategy).__name__} state is not a mapping")
    state.pop(_PARAMS, None)
    vars(strategy).update(state)
