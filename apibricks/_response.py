"""`APIResponse`: what ``client.invoices.with_raw_response.list_paid()`` returns.

The names follow openai-python's raw responses, so nothing has to be learned twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

__all__ = ["APIResponse"]

T = TypeVar("T")


class APIResponse(Generic[T]):
    """The HTTP response of a call, read whole, with the decoded value one `parse` away.

    Attributes:
        status_code: The final attempt's status (2xx: errors raise as in the plain call).
        headers: Response headers, case-insensitive (``headers["request-id"]``).
        request_id: The server's request id, when it sent one.
        url: The URL that answered (after same-origin redirects), without secrets.
        elapsed: Seconds from sending the final attempt to having read its body.
        retries_taken: Attempts before the one that answered (0 when the first did).
        content: The body as received (decompressed).
    """

    __slots__ = (
        "_parsed",
        "_parser",
        "content",
        "elapsed",
        "headers",
        "request_id",
        "retries_taken",
        "status_code",
        "url",
    )

    def __init__(
        self,
        *,
        status_code: int,
        headers: CIMultiDictProxy[str],
        request_id: str | None,
        url: str,
        elapsed: float,
        retries_taken: int,
        content: bytes,
        parser: Callable[[bytes], T],
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.request_id = request_id
        self.url = url
        self.elapsed = elapsed
        self.retries_taken = retries_taken
        self.content = content
        self._parser = parser
        self._parsed: tuple[T] | None = None

    def parse(self) -> T:
        """The same value the plain call returns (decoded once, then cached)."""
        if self._parsed is None:
            self._parsed = (self._parser(self.content),)
        return self._parsed[0]

    def __repr__(self) -> str:
        return f"<APIResponse [{self.status_code}] GET {self.url}>"
