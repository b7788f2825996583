"""``python -m paperboy``: the same as the ``paperboy`` command."""

from paperboy.cli.main import app

app(prog_name="paperboy")
