"""A 2xx answer's invoices, or a `DecodeError` that says what came back.

A captive portal's ``200 text/html`` is not "invalid JSON: Expecting value": the error
names the status, the content type and the page's title. The error is built where the
body is no longer held (see `_release`): it keeps its message, never the body, the parsed
data or the frames that read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._auth import SecretKey
from ._converter import decode_invoices
from ._exceptions import DecodeError
from ._models import Invoice
from ._page import headline
from ._release import release
from ._sanitize import clean, hide

if TYPE_CHECKING:
    from ._async._transport import Reply

__all__ = ["InvoicesParser", "hidden", "invoices_of"]


def invoices_of(reply: Reply) -> list[Invoice]:
    """The invoices in ``reply``'s body, or a `DecodeError` (any echo of the request's key
    hidden)."""
    try:
        return decode_invoices(reply.body)
    except DecodeError as exc:
        failure = _described(exc, reply.status, reply.headers, reply.body, reply.secret)
    del reply
    try:
        raise failure
    finally:
        del failure  # the traceback holds this frame: no cycle through the error


class InvoicesParser:
    """`APIResponse.parse` for ``list_paid``: the same errors as the plain call."""

    __slots__ = ("_headers", "_secret", "_status")

    def __init__(self, status: int, headers: Mapping[str, str], secret: SecretKey | None) -> None:
        self._status, self._headers, self._secret = status, headers, secret

    def __call__(self, content: bytes) -> list[Invoice]:
        try:
            return decode_invoices(content)
        except DecodeError as exc:
            failure = _described(exc, self._status, self._headers, content, self._secret)
        del content  # the response keeps it; this frame does not
        try:
            raise failure
        finally:
            del failure


def _described(
    error: DecodeError,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secret: SecretKey | None,
) -> DecodeError:
    """A fresh error (no traceback, no chain) saying what the server sent; ``error``'s
    frames (the body and what it was parsed into) are released."""
    release(error)
    if not error.message.startswith("invalid JSON"):  # JSON, but not the documented shape
        return hidden(error, secret)
    message = hide(error.message, secret)
    content_type = headers.get("Content-Type", "").partition(";")[0].strip()
    what = f"{status} {clean(content_type or 'without a Content-Type', secret=secret)}"
    if not body:
        return DecodeError(f"{what} with an empty body, not the JSON array of invoices")
    page = headline(body[:65536].decode("utf-8", "replace"))
    if page:
        what += f" ({clean(page, secret=secret, limit=120)})"
    return DecodeError(f"{what} is not JSON: {message.removeprefix('invalid JSON: ')}")


def hidden(error: DecodeError, secret: SecretKey | None) -> DecodeError:
    """A fresh copy of ``error`` (no traceback, no chain) with echoes of ``secret`` hidden:
    a decode error may quote a value, and a server may have put the key there."""
    described = DecodeError(hide(error.message, secret))
    described.path = error.path  # the message already names it
    return described
