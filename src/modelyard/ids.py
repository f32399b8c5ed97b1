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

__all__ = [
    "ALGORITHM",
    "NAME_PATTERN",
    "DatasetId",
    "DatasetVersionId",
    "Digest",
    "ExperimentId",
    "RunId",
    "check_name",
    "new_id",
]

ExperimentId = NewType("ExperimentId", str)
RunId = NewType("RunId", str)
DatasetId = NewType("DatasetId", str)
DatasetVersionId = NewType("DatasetVersionId", str)

ALGORITHM = "blake3"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_NAME_HINT = "Use letters, digits, '.', '_' and '-' (up to 128, starting with a letter or digit), e.g. 'flights'."
_MOVABLE = ("Tag", "Alias")
_HEX = re.compile(r"[0-9a-f]{64}")


def check_name(name: object, what: str = "Dataset name") -> str:
    """Validate a dataset, model, tag or alias name: no path characters, no '@', no '/', no spaces.

    A tag or alias (``what`` is ``"Tag"`` or ``"Alias"``) may not be ``latest`` or all digits: it would read
    as a version.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name[:60]) if isinstance(name, str) else repr(name)
        raise InvalidInputError(f"{what} {shown} is not allowed.", hint=_NAME_HINT)
    if what in _MOVABLE and (name == "latest" or name.isdigit()):
        raise InvalidInputError(
            f"{what} {name!r} is not allowed: it would read as a version.", hint="Choose a name such as 'golden'."
        )
    return name


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
