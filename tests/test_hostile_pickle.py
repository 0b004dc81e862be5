"""Every public exception survives pickle (protocol 2..highest), copy and deepcopy.

The classes are found by introspection of ``apibricks``, so a new public exception is
covered the day it is exported.
"""

from __future__ import annotations

import concurrent.futures
import copy
import inspect
import multiprocessing
import pickle
import threading
from typing import Any

import pytest

import apibricks

PUBLIC_ERRORS = sorted(
    (
        obj
        for name in apibricks.__all__
        if inspect.isclass(obj := getattr(apibricks, name)) and issubclass(obj, BaseException)
    ),
    key=lambda cls: cls.__name__,
)
PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)
ATTRIBUTES = ("message", "status_code", "request_id", "body", "retry_after", "path", "retryable")


def make(cls: type[BaseException]) -> BaseException:
    """An instance with every attribute its class knows set to something distinctive."""
    if issubclass(cls, apibricks.APIStatusError):
        error: BaseException = cls(
            "503 Service Unavailable: busy (request id r-1)",
            status_code=503,
            request_id="r-1",
            headers={"Retry-After": "7", "X-Request-Id": "r-1"},
            body={"title": "busy", "traceId": "r-1", "nested": [1, {"a": None}]},
            retry_after=7.0,
        )
    elif issubclass(cls, apibricks.DecodeError):
        error = cls("expected int", path="[3].organization.creditBalance")
    elif issubclass(cls, apibricks.APITimeoutError):
        error = cls("Request timed out after 1 s.")
    elif issubclass(cls, apibricks.APIConnectionError):
        error = cls("Connection error: reset", retryable=False)
    else:
        error = cls("something went wrong")
    error.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    return error


def same(a: BaseException, b: BaseException) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert a.args == b.args
    for name in ATTRIBUTES:
        assert getattr(a, name, None) == getattr(b, name, None), name
    if isinstance(a, apibricks.APIStatusError):
        assert isinstance(b, apibricks.APIStatusError)
        assert b.headers["retry-after"] == "7", "headers stay case-insensitive"
        assert list(b.headers.items()) == list(a.headers.items())
        assert repr(a) == repr(b)
    assert type(a.__cause__) is type(b.__cause__)
    assert str(a.__cause__) == str(b.__cause__)


def test_the_public_errors_are_all_found() -> None:
    names = {cls.__name__ for cls in PUBLIC_ERRORS}
    assert {"APIBricksError", "APIStatusError", "RateLimitError", "RedirectError"} <= names
    assert {"ConfigurationError", "ResponseTooLargeError", "DecodeError"} <= names


@pytest.mark.parametrize("cls", PUBLIC_ERRORS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickle_round_trip(cls: type[BaseException], protocol: int) -> None:
    error = make(cls)
    same(error, pickle.loads(pickle.dumps(error, protocol=protocol)))


@pytest.mark.parametrize("cls", PUBLIC_ERRORS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copy_round_trip(cls: type[BaseException], how: Any) -> None:
    error = make(cls)
    same(error, how(error))


def test_an_unpicklable_cause_is_dropped_not_fatal() -> None:
    error = apibricks.APIConnectionError("reset")
    error.__cause__ = UnpicklableError(threading.Lock())
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is apibricks.APIConnectionError
    assert restored.__cause__ is None
    assert copy.copy(error).__cause__ is error.__cause__, "copy keeps what pickle cannot"


class UnpicklableError(Exception):
    def __init__(self, lock: Any) -> None:
        super().__init__("holds a lock")
        self.lock = lock


def raise_in_worker(status: int) -> None:
    raise apibricks.RateLimitError(
        "429 Too Many Requests", status_code=status, headers={"Retry-After": "7"}, retry_after=7
    )


def test_an_error_crosses_a_process_pool() -> None:
    spawn = multiprocessing.get_context("spawn")  # fork warns in a threaded process (3.12+)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        future = pool.submit(raise_in_worker, 429)
        with pytest.raises(apibricks.RateLimitError) as caught:
            future.result(timeout=60)
    assert caught.value.retry_after == 7
    assert caught.value.headers["retry-after"] == "7"
