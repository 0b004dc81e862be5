"""Client defaults, in a module of their own so the CLI's ``--help`` shows them without aiohttp."""

from typing import Final

DEFAULT_BASE_URL: Final = "https://api-console.apibricks.io"
BASE_URL_ENV: Final = "APIBRICKS_BASE_URL"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2
