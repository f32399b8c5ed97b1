"""``Events``: the durable, ordered event log that serving and triggers consume.

Registering a version, moving or removing an alias, changing a version's status and deleting write an event
in the same transaction as the change. A consumer keeps the ``id`` of the last event it handled and asks for
what came after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.errors import InvalidInputError
from modelyard.registry.models import Event
from modelyard.stores.protocols import MetadataStore

__all__ = ["Events"]


class Events:
    """Read the event log (``modelyard.events``)."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata

    def since(self, cursor: int = 0, *, limit: int = 1000, kinds: Sequence[str] = ()) -> list[Event]:
        """Events after ``cursor`` (an event id; 0 for the beginning), oldest first.

        Example:
            >>> for event in my.events.since(cursor):
            ...     cursor = event.id
        """
        if cursor < 0 or not 1 <= limit <= 10_000:
            raise InvalidInputError(
                f"since(cursor={cursor}, limit={limit}) is out of range.",
                hint="Pass the id of the last event you handled (0 to start) and a limit of 1 to 10,000.",
            )
        return self._metadata.events.since(cursor, limit=limit, kinds=kinds)
