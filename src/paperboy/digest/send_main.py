"""Send every due digest, then print a JSON summary: ``python -m paperboy.digest.send_main``.

A small runner of :func:`paperboy.digest.sender.send_pending` (``paperboy digest send`` is the
command for people): settings come from the environment (``PAPERBOY_*``), ``--database-url``
overrides the store. Passes repeat until one finds nothing to try (messages retried with a
zero delay are tried again, up to ``mail_max_attempts``). Exit status 0, or 1 when a pass
stopped because the SMTP server itself was unusable (nothing is lost: the digests stay
pending).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from paperboy.digest.sender import SendReport, send_pending
from paperboy.settings import load_settings
from paperboy.store import open_store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paperboy.digest.send_main", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--database-url", help="the store (default: PAPERBOY_DATABASE_URL)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be sent")
    parser.add_argument("--limit", type=int, help="send at most this many digests")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings(database_url=args.database_url)
    store = open_store(settings.database_url)
    total = SendReport()
    try:
        if args.dry_run:
            total.add(send_pending(store, settings, limit=args.limit, dry_run=True))
        else:
            while args.limit is None or total.attempted < args.limit:
                left = None if args.limit is None else args.limit - total.attempted
                report = send_pending(store, settings, limit=left)
                total.add(report)
                if report.attempted == 0 or report.error is not None:
                    break
    finally:
        store.close()
    json.dump(total.as_dict(), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 1 if total.error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
