"""Map what the SDK raises (requests exceptions, `HTTPError` with a response) onto the typed tree.

The class decides every retry: status codes and exception types are inspected here, once;
nothing downstream looks at message text.
"""

from __future__ import annotations

import json

import requests

from services.execution.errors import (
    FatalVenueError,
    NonRetryableVenueError,
    RateLimitedError,
    VenueServerError,
    VenueTimeoutError,
)
from shared.errors import VenueError


def _error_code(response: requests.Response) -> str:
    """The `error` field of a JSON error body ('' for HTML or other bodies)."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("error") or "")
    return ""


def classify(exc: BaseException) -> VenueError:
    """The typed error for anything one SDK call raised."""
    if isinstance(exc, VenueError):
        return exc
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 429:
            return RateLimitedError("rate limited (429)", status=status)
        if status >= 500:
            return VenueServerError(f"venue error {status}", status=status)
        if status in (401, 403):
            return FatalVenueError(f"authentication or permission failure ({status})", status=status)
        code = _error_code(exc.response)
        return NonRetryableVenueError(f"request refused ({status} {code})", status=status, code=code)
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return VenueTimeoutError(f"no answer: {type(exc).__name__}")
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        # A 200 whose body is not JSON (a proxy page): we cannot tell what happened.
        return VenueServerError("response body is not JSON")
    if isinstance(exc, ValueError | TypeError):
        # The SDK fails this way on a mangled key (e.g. "Could not deserialize key data").
        return FatalVenueError(f"client misconfigured: {type(exc).__name__}")
    if isinstance(exc, requests.exceptions.RequestException):
        return VenueTimeoutError(f"transport failure: {type(exc).__name__}")
    return FatalVenueError(f"unexpected client failure: {type(exc).__name__}")
