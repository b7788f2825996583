"""A real SMTP server on loopback that keeps what it receives, for tests of outgoing mail.

Built on aiosmtpd's threaded :class:`~aiosmtpd.controller.Controller`; the production code
talks to it over a real socket with :mod:`smtplib`, nothing patched. Tests queue faults that
the next transactions get, in order: an error reply at ``RCPT`` or at the end of ``DATA``
(``fail_next``), or a connection closed without answering ``DATA`` (``drop_next``).

Use the ``smtp_sink`` fixture (a started sink, stopped after the test; import
``smtp_sink_fixture`` to have it), or ``SmtpSink()`` as a context manager. With
``credentials`` the sink offers ``AUTH`` (without TLS) and checks them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class SmtpFault:
    """What one transaction gets instead of ``250``: ``reply`` at ``stage``, or (``drop``) the
    connection closed while the client waits for the answer to ``DATA``."""

    stage: Stage
    reply: str = ""
    drop: bool = False


@dataclass(frozen=True)
class ReceivedEnvelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        fault = self.sink._take_fault("rcpt")
        if fault is not None:
            return fault.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.sink._take_fault("data")
        if fault is not None and fault.drop:
            assert server.transport is not None
            server.transport.abort()
            # connection_lost() cancels this task before the sleep ends: nothing is answered.
            await asyncio.sleep(60)
            return "421 4.4.2 never sent"
        if fault is not None:
            return fault.reply
        raw = envelope.original_content or cast(bytes, envelope.content) or b""
        # Parsed with Unix line endings, so get_content() gives text as composed, not with CRLF.
        unix = raw.replace(b"\r\n", b"\n")
        message = cast(EmailMessage, email.message_from_bytes(unix, policy=email.policy.default))
        self.sink._deliver(
            message, ReceivedEnvelope(envelope.mail_from or "", tuple(envelope.rcpt_tos)), raw
        )
        return "250 2.0.0 OK queued"


class SmtpSink:
    """A local SMTP server. ``messages`` (parsed, line ends turned into ``\\n``), ``raw`` and
    ``envelopes`` grow, in step, as mail is accepted."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        credentials: Mapping[str, str] | None = None,
        server_hostname: str = "sink.test",
    ) -> None:
        self.host = host
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[ReceivedEnvelope] = []
        self.raw: list[bytes] = []  # each message as it came over the wire (CRLF line ends)
        self.credentials = dict(credentials) if credentials is not None else None
        self.logins: list[str] = []
        self._server_hostname = server_hostname
        self._faults: deque[SmtpFault] = deque()
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        assert self._controller is None, "the sink is already running"
        extra: dict[str, Any] = {}
        if self.credentials is not None:
            extra = {"authenticator": self._authenticate, "auth_require_tls": False}
        last_error: OSError | None = None
        for _ in range(5):  # another process may grab the free port before we bind it
            port = _free_port(self.host)
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=port,
                server_hostname=self._server_hostname,
                ready_timeout=10,
                enable_SMTPUTF8=True,
                **extra,
            )
            try:
                controller.start()
            except OSError as error:
                last_error = error
                continue
            self._controller, self.port = controller, port
            return self
        raise RuntimeError(f"SMTP sink could not bind a port on {self.host}: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults -------------------------------------------------------------------------------

    def fail_next(self, reply: str, times: int = 1, stage: Stage = "data") -> None:
        """The next ``times`` transactions get ``reply`` (e.g. ``"451 4.3.0 try again"``) at
        ``stage``: ``"rcpt"`` refuses the recipient, ``"data"`` refuses the message."""
        if stage not in ("rcpt", "data"):
            raise ValueError(f"stage must be 'rcpt' or 'data', not {stage!r}")
        if not (len(reply) >= 3 and reply[:3].isdigit() and reply[0] in "45"):
            raise ValueError(f"not an SMTP error reply: {reply!r}")
        with self._cond:
            self._faults.extend(SmtpFault(stage, reply) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """The next ``times`` transactions lose the connection after sending their data, before
        the server answers it."""
        with self._cond:
            self._faults.extend(SmtpFault("data", drop=True) for _ in range(times))

    @property
    def pending_faults(self) -> int:
        with self._cond:
            return len(self._faults)

    def _take_fault(self, stage: Stage) -> SmtpFault | None:
        with self._cond:
            if self._faults and self._faults[0].stage == stage:
                return self._faults.popleft()
            return None

    # -- what arrived -------------------------------------------------------------------------

    def _deliver(self, message: EmailMessage, envelope: ReceivedEnvelope, raw: bytes) -> None:
        with self._cond:
            self.messages.append(message)
            self.raw.append(raw)
            self.envelopes.append(envelope)
            self._cond.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", errors="replace")
        password = data.password.decode("utf-8", errors="replace")
        ok = self.credentials.get(login) == password
        if ok:
            with self._cond:
                self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """Block until at least ``count`` messages have arrived; return them all (a copy)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"SMTP sink on {self.host}:{self.port} got {len(self.messages)} "
                        f"message(s) in {timeout:g} s, expected at least {count}"
                    )
                self._cond.wait(left)
            return list(self.messages)

    def clear(self) -> None:
        """Forget received messages and pending faults."""
        with self._cond:
            self.messages.clear()
            self.envelopes.clear()
            self.raw.clear()
            self.logins.clear()
            self._faults.clear()


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    """The ``smtp_sink`` fixture: a started :class:`SmtpSink` on a free loopback port, stopped
    after the test. (Named apart from its fixture so importing it shadows no test argument.)"""
    with SmtpSink() as sink:
        yield sink
