"""Real TLS on loopback for the tests: a test CA, an HTTPS front for the sandbox, a CONNECT proxy.

- `TLSFront` terminates TLS with a certificate from a ``trustme`` CA and pipes the bytes to
  a plain-http sandbox, so the client meets a real handshake and real invoices.
- `TunnelProxy` is a forward proxy for https targets (``CONNECT``) that records what it
  sees: the request heads and every byte it carries through the tunnels. It reaches every
  host on loopback, so a base URL may use a name no DNS knows (``api.apibricks.test``).
- `hashed_directory` lays out a CA directory as ``openssl rehash`` does, in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509

# Names the test certificates are valid for; the .test TLD never resolves (RFC 6761).
SERVER_NAMES = ("127.0.0.1", "localhost", "api.apibricks.test")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: bytearray) -> None:
    try:
        while chunk := await source.read(65536):
            seen += chunk
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        sink.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await sink.wait_closed()


class _Server:
    """A loopback asyncio server whose connections all end when it stops."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._track, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


_NO_CERTIFICATE_TEXT = b"No required SSL certificate was sent"
_NO_CERTIFICATE = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_NO_CERTIFICATE_TEXT)
    + _NO_CERTIFICATE_TEXT
)


class TLSFront(_Server):
    """HTTPS in front of a plain-http upstream on loopback; keeps each client's certificate."""

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.context = context
        # See `server_context`: a context that asks for a client certificate requires one.
        self.requires_client_certificate = context.verify_mode != ssl.CERT_NONE
        self.client_certificates: list[dict[str, Any] | None] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        await super().start(self.context)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        certificate = writer.get_extra_info("peercert")
        self.client_certificates.append(certificate)
        if self.requires_client_certificate and not certificate:
            await reader.readuntil(b"\r\n\r\n")  # refused as nginx does (400), not forwarded
            writer.write(_NO_CERTIFICATE)
            await writer.drain()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        ignored = bytearray()
        await asyncio.gather(
            _pipe(reader, upstream_writer, ignored), _pipe(upstream_reader, writer, ignored)
        )


class TunnelProxy(_Server):
    """A CONNECT proxy: answers 200, then pipes to 127.0.0.1 at the port asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[str] = []
        self.carried = bytearray()  # every byte after the CONNECT head, both directions

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        self.heads.append(head)
        method, target, _ = head.split("\r\n", 1)[0].split(" ")
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        port = int(target.rpartition(":")[2])
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(
            _pipe(reader, upstream_writer, self.carried),
            _pipe(upstream_reader, writer, self.carried),
        )


def server_context(ca: trustme.CA, *, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    """A server context with a certificate from ``ca``; with ``client_ca`` (mutual TLS) a
    client certificate must verify against it, and `TLSFront` answers a client without one
    400, as nginx's ``ssl_verify_client optional`` does.

    Not CERT_REQUIRED: on Python 3.10 asyncio's TLS transports of a connection the peer drops
    are never closed (a ResourceWarning, an error under this suite's filterwarnings).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*SERVER_NAMES).configure_cert(context)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate given must still verify
        client_ca.configure_trust(context)
    return context


def subject_hash(pem: bytes) -> str:
    """OpenSSL's ``X509_NAME_hash`` of a certificate's subject (``openssl x509 -hash``):
    SHA-1 of the canonical name (each value as a lower-cased, space-folded UTF8String,
    the RDN sets concatenated), its first four bytes read little-endian."""
    certificate = x509.load_pem_x509_certificate(pem)
    canonical = b""
    for rdn in certificate.subject.rdns:
        entries = []
        for attribute in rdn:
            value = str(attribute.value)
            folded = " ".join(value.split()).lower().encode()
            entries.append(_der(0x30, _oid(attribute.oid.dotted_string) + _der(0x0C, folded)))
        canonical += _der(0x31, b"".join(sorted(entries)))
    digest = hashlib.sha1(canonical).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def hashed_directory(directory: Path, *pems: bytes) -> Path:
    """``directory`` holding each PEM certificate as ``<subject hash>.<n>``."""
    directory.mkdir(exist_ok=True)
    for pem in pems:
        name = subject_hash(pem)
        counter = 0
        while (directory / f"{name}.{counter}").exists():
            counter += 1
        (directory / f"{name}.{counter}").write_bytes(pem)
    return directory


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytes([40 * first + second])
    for number in rest:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, body)
