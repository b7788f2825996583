"""The ``paperboy`` command line: thin commands over the library.

``main`` builds the app from the command modules (``ingest``, ``search``, ``store``, ``jobs``,
``users``, ``digest``, ``serve``), which share ``options``; ``catchup`` is the step every ingest
command runs last.
"""

from paperboy.cli.main import app
from paperboy.cli.options import err, out

__all__ = ["app", "err", "out"]
