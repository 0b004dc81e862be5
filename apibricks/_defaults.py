"""The client's default settings: plain values, importable without attrs.

`ClientSettings` declares its fields with them; the CLI's argument parser shows them in
``apibricks --help``, which thus loads no attrs (~20 ms of a 100 ms start-up budget).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_AFTER_CAP",
    "DEFAULT_TIMEOUT",
]

DEFAULT_BASE_URL: Final = "https://api-console.apibricks.io"
BASE_URL_ENV: Final = "APIBRICKS_BASE_URL"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_RETRY_AFTER_CAP: Final = 60.0
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_MAX_RESPONSE_BYTES: Final = 256 * 2**20
