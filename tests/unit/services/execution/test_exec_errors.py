"""Failures are classed once, by status and exception type; retries follow the class."""

from __future__ import annotations

import pytest
import requests

from services.execution.coinbase.errors import classify
from services.execution.errors import (
    FatalVenueError,
    NonRetryableVenueError,
    RateLimitedError,
    RetryableVenueError,
    VenueServerError,
    VenueTimeoutError,
)


def http_error(status: int, body: str = "{}") -> requests.exceptions.HTTPError:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    return requests.exceptions.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize(
    ("exc", "kind", "ambiguous"),
    [
        (http_error(429, '{"errors":[{"id":"rate_limit_exceeded"}]}'), RateLimitedError, False),
        (http_error(429, "<html>Too Many Requests</html>"), RateLimitedError, False),
        (http_error(500, '{"error":"INTERNAL"}'), VenueServerError, True),
        (http_error(503, "<html>bad gateway</html>"), VenueServerError, True),
        (requests.exceptions.ReadTimeout("slow"), VenueTimeoutError, True),
        (requests.exceptions.ConnectionError("reset"), VenueTimeoutError, True),
    ],
)
def test_retryable(exc: BaseException, kind: type[RetryableVenueError], ambiguous: bool) -> None:
    err = classify(exc)
    assert isinstance(err, kind)
    assert isinstance(err, RetryableVenueError)
    assert err.ambiguous is ambiguous


def test_non_retryable_keeps_the_venue_code() -> None:
    err = classify(http_error(400, '{"error":"INVALID_ARGUMENT","message":"bad"}'))
    assert isinstance(err, NonRetryableVenueError)
    assert (err.status, err.code) == (400, "INVALID_ARGUMENT")
    missing = classify(http_error(404, '{"error":"NOT_FOUND"}'))
    assert isinstance(missing, NonRetryableVenueError)


@pytest.mark.parametrize(
    "exc",
    [
        http_error(401, "Unauthorized"),
        http_error(403, '{"error":"PERMISSION_DENIED"}'),
        ValueError("Could not deserialize key data"),
    ],
)
def test_fatal(exc: BaseException) -> None:
    assert isinstance(classify(exc), FatalVenueError)


def test_already_typed_errors_pass_through() -> None:
    err = RateLimitedError("x", status=429)
    assert classify(err) is err
