"""The ``modelyard`` command line: parse, call the ``Client``, print. The only package that prints.

Commands are ``modelyard <noun> <verb>``, one module per noun: ``experiments`` (list), ``runs`` (list,
search, show, compare), ``data`` (datasets; with ``data_checks`` and ``data_remote``), ``models`` (the
registry; with ``models_admin``), ``demo`` and ``maintenance`` (the top-level ``fsck`` and ``gc``).
``main.main`` is the root click group (the console script's entry point) with the global options ``--uri``
and ``--artifacts``; ``session`` opens one ``Client`` per invocation, lazily; ``output`` holds rich tables, JSON output,
formatting and the error renderer; ``commands`` the click command classes. Register a new command with
``main.add_command(...)`` in ``main.py``.

Nothing is re-exported here: the group ``main`` would be shadowed by the submodule of the same name.
"""

__all__: list[str] = []
