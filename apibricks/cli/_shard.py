"""Key fingerprints, and shards of a keys file chosen by them.

A fingerprint is the SHA-256 of the key: stable across machines and runs, safe to write
down (the ledger of ``--resume`` holds fingerprints, never keys). ``--shard I/N`` keeps the
keys whose fingerprint falls in bucket I - 1 of N, so N runs given the same keys file split
it with no coordination: the shards are disjoint and together hold every key.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Shard", "digest", "fingerprint", "parse_shard"]


def digest(key: str) -> bytes:
    """The key's SHA-256: identifies an organization's key without revealing it."""
    import hashlib  # here: OpenSSL takes ~8 ms to load, and `--help` never hashes

    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def fingerprint(key: str) -> str:
    """The key's SHA-256 as hex, as ledgers write it down."""
    return digest(key).hex()


class Shard(NamedTuple):  # not attrs: `--help` loads none (see .._defaults)
    number: int  # 1-based, as written on the command line
    of: int

    def holds(self, key: str) -> bool:
        return int(fingerprint(key)[:16], 16) % self.of == self.number - 1

    def __str__(self) -> str:
        return f"{self.number}/{self.of}"


def parse_shard(text: str) -> Shard:
    """``"2/8"`` -> ``Shard(2, 8)``; ValueError saying what is expected otherwise."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count)) if slash else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard.number <= shard.of:
        raise ValueError(f"expected I/N with 1 <= I <= N (e.g. 1/4), got {text!r}")
    return shard
