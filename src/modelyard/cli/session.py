"""The state of one ``modelyard`` invocation: the root group's options and the ``Client`` they open.

The client is opened once, on the first command that needs it (``--help`` never does), and closed when the
root click context closes. ``modelyard.client`` is imported here lazily: it pulls in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["Session", "current_client"]


class Session:
    """Options of the root group (``--uri``, ``--artifacts``) and the client opened from them."""

    def __init__(self, uri: str | None = None, artifacts: str | None = None) -> None:
        self.uri = uri
        self.artifacts = artifacts
        self._client: Client | None = None

    def client(self, ctx: click.Context) -> Client:
        """Return the client, opening it on first use and closing it with the root context."""
        if self._client is None:
            from modelyard.client import Client

            self._client = Client(self.uri, artifacts=self.artifacts)
            ctx.find_root().call_on_close(self._close)
        return self._client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def current_client() -> Client:
    """The client of the running command (a command run without the root group gets the defaults)."""
    ctx = click.get_current_context()
    return ctx.ensure_object(Session).client(ctx)
