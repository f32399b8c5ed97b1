"""Typed identifiers and the content digest.

``Digest`` names stored bytes: ``blake3:<64 hex>``. Every artifact, dataset chunk and model package is
stored under its digest, so equal content is stored once and every read can be verified.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import NewType

from modelyard.errors import InvalidInputError

__all__ = ["ALGORITHM", "DatasetId", "DatasetVersionId", "Digest", "ExperimentId", "RunId", "new_id"]

ExperimentId = NewType("ExperimentId", str)
RunId = NewType("RunId", str)
DatasetId = NewType("DatasetId", str)
DatasetVersionId = NewType("DatasetVersionId", str)

ALGORITHM = "blake3"
_HEX = re.compile(r"[0-9a-f]{64}")


def new_id() -> str:
    """Return a new random 32-hex-character identifier (128 bits)."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Digest:
    """The blake3 digest of some bytes; ``str(d)`` is ``blake3:<hex>``."""

    hex: str

    def __post_init__(self) -> None:
        if not isinstance(self.hex, str) or not _HEX.fullmatch(self.hex):
            raise InvalidInputError(
                f"{self.hex!r} is not a blake3 digest.", hint="A digest is 64 lowercase hex characters."
            )

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``blake3:<hex>`` or a bare 64-character hex string."""
        value = text.strip()
        if value.startswith(f"{ALGORITHM}:"):
            value = value[len(ALGORITHM) + 1 :]
        return cls(value)

    def __str__(self) -> str:
        return f"{ALGORITHM}:{self.hex}"

    @classmethod
    def from_bytes(cls, raw: bytes) -> Digest:
        """The digest whose 32 raw bytes are ``raw`` (any 32 bytes are a digest: no text to validate)."""
        if len(raw) != 32:
            raise InvalidInputError(f"{raw!r} is not a 32-byte digest.", hint="A blake3 digest has 32 bytes.")
        made = object.__new__(cls)
        object.__setattr__(made, "hex", raw.hex())
        return made

    @property
    def raw(self) -> bytes:
        """The 32 raw bytes."""
        return bytes.fromhex(self.hex)

    @property
    def short(self) -> str:
        """The first 12 hex characters, for display."""
        return self.hex[:12]
