"""Email digests: subscriptions, composing digests into the outbox, and sending them.

Composing and sending are separate steps joined by the outbox table: a digest is composed once
per subscriber and period (with a Message-ID it keeps forever), and a sender delivers outbox rows
one at a time, so a crash loses nothing and resends at most the one message in flight.
"""
