"""Outgoing mail over real SMTP: :mod:`paperboy.mail` against a local aiosmtpd server."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, parsedate_to_datetime
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from paperboy.mail import (
    MAX_LINE,
    MailError,
    SmtpConfig,
    UnsendableAddress,
    compose,
    mailbox,
    send,
)
from smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

SENDER = "Paperboy <paperboy@example.org>"


def config_for(sink: SmtpSink, **changes: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": sink.host,
        "port": sink.port,
        "timeout": 5.0,
        "sender": SENDER,
    }
    values.update(changes)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def plain(to: str = "reader@example.com", subject: str = "Your digest") -> EmailMessage:
    return compose(sender=SENDER, to=to, subject=subject, text="Three new papers.\n")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_multipart_message_arrives_with_both_parts(smtp_sink: SmtpSink) -> None:
    text = "Neue Papiere diese Woche:\n\n* Attention is all you need — again\n"
    html = "<p>Neue Papiere diese Woche:</p><ul><li>Attention is all you need — again</li></ul>"
    message = compose(
        sender=SENDER,
        to="Ada Lovelace <ada@example.com>",
        subject="Paperboy digest — Woche 12 ✓",
        text=text,
        html=html,
        headers={"List-Unsubscribe": "<https://paperboy.example.org/unsubscribe/abc>"},
        domain="paperboy.example.org",
    )
    before = datetime.now(UTC).replace(microsecond=0)
    send(config_for(smtp_sink), message)

    [got] = smtp_sink.wait_for(1)
    assert got.get_content_type() == "multipart/alternative"
    parts = list(got.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == text
    assert parts[1].get_content().strip() == html
    assert all(part.get_content_charset() == "utf-8" for part in parts)

    assert got["From"] == SENDER
    assert got["To"] == "Ada Lovelace <ada@example.com>"
    assert got["Subject"] == "Paperboy digest — Woche 12 ✓"
    assert got["List-Unsubscribe"] == "<https://paperboy.example.org/unsubscribe/abc>"
    assert got["Message-ID"] == message["Message-ID"]
    assert got["Message-ID"].startswith("<") and got["Message-ID"].endswith(
        "@paperboy.example.org>"
    )
    sent_at = parsedate_to_datetime(got["Date"])
    assert sent_at.utcoffset() is not None and sent_at.utcoffset().total_seconds() == 0
    assert before <= sent_at <= datetime.now(UTC)

    [envelope] = smtp_sink.envelopes
    assert envelope.mail_from == "paperboy@example.org"
    assert envelope.rcpt_tos == ("ada@example.com",)


def test_plain_text_message(smtp_sink: SmtpSink) -> None:
    message = compose(
        sender=SENDER,
        to="reader@example.com",
        subject="Just text",
        text="No HTML here",
        message_id="digest-2024-w12@paperboy.example.org",
    )
    send(config_for(smtp_sink), message)

    [got] = smtp_sink.wait_for(1)
    assert not got.is_multipart()
    assert got.get_content_type() == "text/plain"
    assert got.get_content_charset() == "utf-8"
    assert got.get_content() == "No HTML here\n"
    assert got["Message-ID"] == "<digest-2024-w12@paperboy.example.org>"
    assert got["Subject"] == "Just text"
    assert got["Date"] and got["From"] == SENDER and got["To"] == "reader@example.com"


def test_config_sender_is_the_envelope_sender(smtp_sink: SmtpSink) -> None:
    config = config_for(smtp_sink, sender="Digest Robot <robot@lab.example>")
    send(config, plain())
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0].mail_from == "robot@lab.example"


@pytest.mark.parametrize(
    "changes",
    [
        {"to": "reader@example.com\r\nBcc: everyone@example.com"},
        {"to": "reader@example.com\nBcc: everyone@example.com"},
        {"subject": "Hello\r\nBcc: everyone@example.com"},
        {"subject": "Hello\rX-Injected: 1"},
        {"sender": "Paperboy <p@example.org>\nBcc: everyone@example.com"},
        {"headers": {"X-Digest": "weekly\r\nBcc: everyone@example.com"}},
        {"headers": {"X-Bad\r\nBcc": "everyone@example.com"}},
        {"headers": {"X Bad": "value"}},
        {"message_id": "<a@b>\r\nBcc: everyone@example.com"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_header_injection_is_refused(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "to": "reader@example.com",
        "subject": "Hello",
        "text": "Body\r\nwith line breaks is fine.\n",
    }
    arguments.update(changes)
    with pytest.raises(ValueError, match="header"):
        compose(**arguments)  # type: ignore[arg-type]


def test_temporary_reply_to_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("451 4.3.0 try again later")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain())
    error = caught.value
    assert error.temporary is True
    assert error.code == 451
    assert f"127.0.0.1:{smtp_sink.port}" in str(error)
    assert "try again later" in str(error)
    assert smtp_sink.messages == []

    send(config_for(smtp_sink), plain(subject="Second try"))
    [got] = smtp_sink.wait_for(1)
    assert got["Subject"] == "Second try"


def test_permanent_refusal_of_the_recipient(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("550 5.1.1 no such user", stage="rcpt")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain(to="ghost@example.com"))
    error = caught.value
    assert error.temporary is False
    assert error.code == 550
    assert error.refused == {"ghost@example.com": (550, "5.1.1 no such user")}
    assert "ghost@example.com" in str(error) and f"127.0.0.1:{smtp_sink.port}" in str(error)

    send(config_for(smtp_sink), plain())
    assert len(smtp_sink.wait_for(1)) == 1


def test_temporary_refusal_of_the_recipient(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("450 4.2.1 mailbox busy", stage="rcpt")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain())
    assert caught.value.temporary is True
    assert caught.value.code == 450


def test_shutting_down_reply_is_temporary(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("421 4.3.2 shutting down")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain())
    assert caught.value.temporary is True
    assert caught.value.code == 421

    send(config_for(smtp_sink), plain())
    assert len(smtp_sink.wait_for(1)) == 1


def test_permanent_reply_to_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("554 5.6.0 message content rejected")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain())
    assert caught.value.temporary is False
    assert caught.value.code == 554


def test_dropped_connection_is_temporary(smtp_sink: SmtpSink) -> None:
    smtp_sink.drop_next()
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), plain())
    assert caught.value.temporary is True
    assert caught.value.code is None
    assert f"127.0.0.1:{smtp_sink.port}" in str(caught.value)
    assert smtp_sink.messages == []

    send(config_for(smtp_sink), plain(subject="After the drop"))
    [got] = smtp_sink.wait_for(1)
    assert got["Subject"] == "After the drop"


def test_faults_are_consumed_in_order(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("451 4.3.0 try again", times=2)
    smtp_sink.drop_next()
    smtp_sink.fail_next("550 5.1.1 no such user", stage="rcpt")
    outcomes: list[tuple[bool, int | None]] = []
    for _ in range(4):
        with pytest.raises(MailError) as caught:
            send(config_for(smtp_sink), plain())
        outcomes.append((caught.value.temporary, caught.value.code))
    assert outcomes == [(True, 451), (True, 451), (True, None), (False, 550)]
    assert smtp_sink.pending_faults == 0

    send(config_for(smtp_sink), plain())
    assert len(smtp_sink.wait_for(1)) == 1


def test_some_recipients_refused_is_not_retried(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("450 4.2.1 mailbox busy", stage="rcpt")
    message = plain(to="first@example.com, second@example.com")
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink), message)
    assert caught.value.temporary is False  # a retry would give second@ a second copy
    assert caught.value.refused == {"first@example.com": (450, "4.2.1 mailbox busy")}
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0].rcpt_tos == ("second@example.com",)


def test_connection_refused_is_temporary_and_names_the_server() -> None:
    port = closed_port()
    config = SmtpConfig(host="127.0.0.1", port=port, timeout=2.0)
    with pytest.raises(MailError) as caught:
        send(config, plain())
    assert caught.value.temporary is True
    assert caught.value.code is None
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts the TCP connection, never says hello
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        config = SmtpConfig(host="127.0.0.1", port=port, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(MailError) as caught:
            send(config, plain())
    assert time.monotonic() - started < 2
    assert caught.value.temporary is True
    assert "timed out" in str(caught.value)


def test_login_with_credentials() -> None:
    with SmtpSink(credentials={"paperboy": "s3cret"}) as sink:
        send(config_for(sink, username="paperboy", password="s3cret"), plain())
        sink.wait_for(1)
        assert sink.logins == ["paperboy"]

        with pytest.raises(MailError) as caught:
            send(config_for(sink, username="paperboy", password="wrong"), plain())
        assert caught.value.temporary is False
        assert caught.value.code == 535
        assert "login" in str(caught.value)
        assert len(sink.messages) == 1


def test_starttls_required_but_not_offered(smtp_sink: SmtpSink) -> None:
    with pytest.raises(MailError) as caught:
        send(config_for(smtp_sink, security="starttls"), plain())
    assert caught.value.temporary is False
    assert "STARTTLS" in str(caught.value)
    assert smtp_sink.messages == []


def test_config_from_settings() -> None:
    settings = SimpleNamespace(
        smtp_host="mail.example.org",
        smtp_port=587,
        smtp_security="starttls",
        smtp_username="paperboy",
        smtp_password=SecretStr("s3cret"),
        smtp_timeout=12,
        mail_from="Radar <radar@example.org>",
    )
    config = SmtpConfig.from_settings(settings)
    assert config == SmtpConfig(
        host="mail.example.org",
        port=587,
        security="starttls",
        username="paperboy",
        password="s3cret",
        timeout=12.0,
        sender="Radar <radar@example.org>",
    )
    assert config.envelope_sender == "radar@example.org"
    assert "s3cret" not in repr(config)


def test_config_from_settings_without_smtp_fields() -> None:
    assert SmtpConfig.from_settings(SimpleNamespace()) == SmtpConfig()
    no_password = SimpleNamespace(smtp_username="", smtp_password=None)
    assert SmtpConfig.from_settings(no_password) == SmtpConfig()


@pytest.mark.parametrize(
    "changes",
    [{"security": "ssl"}, {"port": 0}, {"timeout": 0}, {"sender": "Paperboy <>"}],
    ids=lambda changes: next(iter(changes)),
)
def test_config_refuses_nonsense(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SmtpConfig(**changes)  # type: ignore[arg-type]


def test_config_from_real_settings(database_url: str) -> None:
    from paperboy.settings import Settings

    config = SmtpConfig.from_settings(Settings(database_url=database_url))
    assert config.envelope_sender and config.security in ("none", "starttls", "tls")


# -- list headers on the wire (RFC 2369 / RFC 8058) -------------------------------------------


def header_lines(raw: bytes, name: str) -> list[bytes]:
    """The raw lines (CRLF ends, folds kept) of header ``name`` in a message as received."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    prefix = name.lower().encode() + b":"
    return [f for f in fields if f.lower().startswith(prefix)]


def test_list_unsubscribe_goes_out_as_the_literal_url_never_encoded(smtp_sink: SmtpSink) -> None:
    """A URL longer than a 78-character line, with a non-ASCII subject and sender name beside
    it: the header is ``<https://...>`` on one line, byte for byte, as RFC 2369 wants."""
    url = "https://paperboy.example.org/unsubscribe?token=" + "eyJzIjo5MjIzMzcyfQ.Zx_-" * 30
    message = compose(
        sender="Papierjunge – Übersicht <paperboy@example.org>",
        to="Zoë Ünal <zoe@example.com>",
        subject="Papierjunge – Übersicht: 3 neue Papiere ✓",
        text="Drei neue Papiere.\n",
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "<digest.paperboy.example.org>",
        },
    )
    send(config_for(smtp_sink), message)
    smtp_sink.wait_for(1)
    raw = smtp_sink.raw[0]
    assert header_lines(raw, "List-Unsubscribe") == [f"List-Unsubscribe: <{url}>".encode()]
    assert header_lines(raw, "List-Unsubscribe-Post") == [
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]
    assert header_lines(raw, "List-Id") == [b"List-Id: <digest.paperboy.example.org>"]
    assert b"=?" not in b"".join(header_lines(raw, "List-Unsubscribe"))
    assert all(len(line) <= MAX_LINE for line in raw.split(b"\r\n"))
    # The subject still is an RFC 2047 encoded-word (it is unstructured text), and decodes back.
    assert header_lines(raw, "Subject")[0].startswith(b"Subject: ")
    for policy in (email.policy.default, email.policy.compat32):
        parsed = email.message_from_bytes(raw, policy=policy)
        assert str(parsed["List-Unsubscribe"]) == f"<{url}>"
        assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Papierjunge – Übersicht: 3 neue Papiere ✓"
    assert parsed["From"] == "Papierjunge – Übersicht <paperboy@example.org>"


def test_a_list_header_with_several_urls_folds_only_between_them() -> None:
    mailto = "<mailto:unsubscribe@paperboy.example.org?subject=unsubscribe>"
    https = "<https://paperboy.example.org/unsubscribe?token=" + "x" * 90 + ">"
    message = compose(
        sender=SENDER,
        to="reader@example.com",
        subject="Hello",
        text="Body\n",
        headers={"List-Unsubscribe": f"{mailto}, {https}"},
    )
    raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    (field,) = header_lines(raw, "List-Unsubscribe")
    assert field == f"List-Unsubscribe: {mailto},\r\n {https}".encode()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["List-Unsubscribe"]) == f"{mailto}, {https}"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("<https://paperboy.example.org/u?t=" + "a" * MAX_LINE + ">", "998"),
        ("<https://bücher.example/unsubscribe?token=abc>", "ASCII"),
    ],
    ids=["longer than a line", "not ASCII"],
)
def test_a_list_header_that_cannot_go_out_literally_is_refused_when_composed(
    value: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        compose(
            sender=SENDER,
            to="reader@example.com",
            subject="Hello",
            text="Body\n",
            headers={"List-Unsubscribe": value},
        )


# -- addresses that are not ASCII -------------------------------------------------------------


def test_a_non_ascii_local_part_is_refused_before_connecting_instead_of_crashing(
    smtp_sink: SmtpSink,
) -> None:
    """The sink offers SMTPUTF8, so only Paperboy's own rule keeps the mail back: the recipient
    is refused as a permanent, per-recipient failure, and nothing reaches the server."""
    lookalike = "\u0430lice@example.org"  # a Cyrillic "а"
    with pytest.raises(UnicodeEncodeError):
        formataddr(("Alice", lookalike))  # what crashed the senders before
    header = mailbox("Alice", lookalike)
    assert lookalike in header
    for to in (lookalike, header):
        message = compose(sender=SENDER, to=to, subject="Hello", text="Body\n")
        with pytest.raises(UnsendableAddress) as caught:
            send(config_for(smtp_sink), message)
        error = caught.value
        assert isinstance(error, MailError) and not error.temporary and error.code == 553
        assert list(error.refused) == [lookalike] and "non-ASCII" in str(error)
    time.sleep(0.2)
    assert smtp_sink.messages == [] and smtp_sink.envelopes == []


def test_an_internationalised_domain_is_sent_in_its_ascii_form(smtp_sink: SmtpSink) -> None:
    assert mailbox("Zoë", "zoe@bücher.example") == "Zoë <zoe@xn--bcher-kva.example>"
    send(config_for(smtp_sink), plain(to="zoe@bücher.example"))
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0].rcpt_tos == ("zoe@xn--bcher-kva.example",)
    assert header_lines(smtp_sink.raw[0], "To") == [b"To: zoe@xn--bcher-kva.example"]
