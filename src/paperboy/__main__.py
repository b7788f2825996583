"""``python -m paperboy``: the same as the ``paperboy`` command."""

from paperboy.cli import app

app(prog_name="paperboy")
