"""The email-digest side of the command line: ``paperboy digest preview|compose|send|list``.

``compose`` puts every due subscriber's digest into the outbox (once per period, whatever how
often it runs); ``send`` composes, then delivers the outbox over SMTP; ``preview`` shows what a
subscriber would get now without writing anything. The daemon does ``compose`` + ``send`` after
each harvest by itself (``paperboy.digest.jobs.run_digests``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from paperboy.cli.options import (
    DatabaseOpt,
    Group,
    err,
    fail,
    opened_store,
    option,
    out,
    progress_bar,
    settings_for,
)

if TYPE_CHECKING:
    from paperboy.digest.compose import ComposeReport
    from paperboy.digest.sender import SendReport
    from paperboy.settings import Settings
    from paperboy.store import SQLStore


def _bar() -> Progress:
    return progress_bar((BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()))


def _compose(settings: Settings, store: SQLStore) -> ComposeReport:
    """Compose the due digests with a progress bar; print a one-line summary."""
    from paperboy.digest.compose import compose_due
    from paperboy.services import built

    with _bar() as bar, built(settings, store) as services:
        task = bar.add_task("composing digests", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = compose_due(services, progress=on_progress)
    if not report.periods:
        out.print("No digest is due now (daily digests go out Monday to Friday).")
    else:
        out.print(
            f"Composed for {', '.join(report.periods)}: {report.due} due, "
            f"{report.queued} digests queued, {report.notes} 'nothing new' notes, "
            f"{report.skipped} skipped (nothing new), {report.existing} done elsewhere, "
            f"{report.errors} failed.",
            highlight=False,
        )
    return report


def preview_command(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    html: Annotated[
        bool, typer.Option("--html", help="The HTML part instead of the text part.")
    ] = False,
    output: Annotated[
        Path | None,
        option(
            "--out",
            "-o",
            help="Write to this file: the whole message (.eml, text and HTML parts), or the "
            "HTML part with --html.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Show the digest a subscriber would get now. Writes nothing to the store.

    \b
    Examples:
      paperboy digest preview ada@example.org
      paperboy digest preview ada@example.org --out digest.eml
      paperboy digest preview ada@example.org --html --out digest.html
    """
    from paperboy.digest.compose import as_email
    from paperboy.digest.preview import NoSubscription, preview_digest

    settings = settings_for(database_url)
    from paperboy.services import built

    with opened_store(settings) as store, built(settings, store) as services:
        try:
            digest = preview_digest(services, email)
        except NoSubscription as exc:
            raise fail(str(exc)) from None
    if output is not None:
        if html:
            output.write_text(digest.html, encoding="utf-8")
        else:
            output.write_bytes(as_email(digest, settings).as_bytes())
        err.print(f"Wrote {output} ({digest.subject})", highlight=False)
        return
    if html:
        out.out(digest.html, highlight=False)
        return
    out.print(f"Subject: {digest.subject}", highlight=False, markup=False)
    out.print(f"To: {digest.subscription.email}\n", highlight=False, markup=False)
    out.out(digest.text, highlight=False)


def compose_command(database_url: DatabaseOpt = None) -> None:
    """Compose every due digest into the outbox now (each subscriber once per period).

    \b
    Examples:
      paperboy digest compose
    """
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        report = _compose(settings, store)
    if report.errors:
        raise typer.Exit(1)


def send_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be sent; send nothing.")
    ] = False,
    limit: Annotated[int | None, option(min=1, help="Send at most this many digests.")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Compose the due digests, then send the outbox over SMTP (PAPERBOY_SMTP_*).

    A dry run composes nothing and sends nothing: it lists the digests waiting to be sent.

    \b
    Examples:
      paperboy digest send
      paperboy digest send --dry-run
      paperboy digest send --limit 100
    """
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        if dry_run:
            _dry_run(settings, store, limit)
            return
        _compose(settings, store)
        total = _send_outbox(settings, store, limit)
    out.print(
        f"Sent {total.sent}, to retry {total.retried}, failed {total.failed}, "
        f"addresses paused {total.paused}.",
        highlight=False,
    )
    if total.error is not None:
        raise fail(f"Sending stopped: {total.error} (the digests stay in the outbox).")


def _dry_run(settings: Settings, store: SQLStore, limit: int | None) -> None:
    """List the digests waiting to be sent; compose nothing, send nothing."""
    from paperboy.digest.sender import send_pending

    table = Table(title="Would send")
    for name in ("Outbox", "To", "Period", "Subject"):
        table.add_column(name)

    def listed(message: object, outcome: str) -> None:
        table.add_row(
            str(getattr(message, "id", "")),
            str(getattr(message, "to_addr", "")),
            str(getattr(message, "period", "")),
            str(getattr(message, "subject", "")),
        )

    report = send_pending(store, settings, limit=limit, dry_run=True, progress=listed)
    if report.skipped_dry_run:
        out.print(table)
    out.print(f"{report.skipped_dry_run} digests would be sent.")


def _send_outbox(settings: Settings, store: SQLStore, limit: int | None) -> SendReport:
    """Send the outbox (at most ``limit`` digests) batch by batch, with a progress bar."""
    from paperboy.digest.sender import SendReport, send_pending

    pending = store.subscriptions.outbox_counts().get("pending", 0)
    total = SendReport()
    with _bar() as bar:
        task = bar.add_task("sending digests", total=min(pending, limit or pending))

        def on_sent(message: object, outcome: str) -> None:
            bar.advance(task)

        while limit is None or total.attempted < limit:
            left = None if limit is None else limit - total.attempted
            report = send_pending(store, settings, limit=left, progress=on_sent)
            total.add(report)
            if report.attempted == 0 or report.error is not None:
                break
    return total


def list_command(
    email: Annotated[
        str | None,
        option("--email", "-e", help="One subscriber's digests."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Subscriptions to show.")] = 50,
    database_url: DatabaseOpt = None,
) -> None:
    """List subscriptions, or one subscriber's digests (outbox rows) with --email.

    \b
    Examples:
      paperboy digest list
      paperboy digest list --email ada@example.org
    """
    with opened_store(settings_for(database_url)) as store:
        if email is None:
            table = _subscriptions_table(store, limit)
        else:
            table = _messages_table(store, email)
    out.print(table)


def _messages_table(store: SQLStore, email: str) -> Table:
    sub = store.subscriptions.by_email(email.strip().lower())
    if sub is None:
        raise fail(f"no subscription for {email.strip()!r}")
    table = Table(title=f"Digests of {sub.email}")
    for name in ("Outbox", "Period", "Status", "Tries", "Sent (UTC)", "Subject / error"):
        table.add_column(name)
    for m in store.subscriptions.messages_of(sub.id):
        table.add_row(
            str(m.id),
            m.period,
            m.status,
            str(m.attempts),
            f"{m.sent_at:%Y-%m-%d %H:%M}" if m.sent_at else "-",
            (m.last_error or m.subject)[:70],
        )
    return table


def _subscriptions_table(store: SQLStore, limit: int) -> Table:
    table = Table(title="Subscriptions")
    for name in ("Id", "Email", "Status", "Frequency", "Categories", "Last digest (UTC)"):
        table.add_column(name)
    for s in store.subscriptions.list(limit=limit):
        table.add_row(
            str(s.id),
            s.email,
            s.status,
            s.frequency,
            ", ".join(s.categories) or "all",
            f"{s.last_digest_at:%Y-%m-%d %H:%M}" if s.last_digest_at else "never",
        )
    return table


DIGEST = Group(
    "digest",
    "Email digests: preview one, compose the due ones into the outbox, send the outbox.",
    [
        ("preview", preview_command),
        ("compose", compose_command),
        ("send", send_command),
        ("list", list_command),
    ],
)
