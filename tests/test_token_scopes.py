"""API tokens: shown once, revoked by hand or by any password change or reset, scoped (read,
write, admin) and held to their scope by the middleware; bearer credentials that are not a live
token are a 401 (only the push-ingest route takes its own)."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert

from account_web import (  # noqa: F401  (make_client and web are fixtures)
    NEW_PASSWORD,
    ClientFactory,
    created_secret,
    link_token,
    mail_link,
    make_client_fixture,
    page_error,
    web_fixture,
    whoami,
)
from community import PASSWORD, form, log_in, make_user
from conftest import sql_rows
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore, migrate, open_store
from paperboy.store.accounts import digest
from paperboy.store.schema import api_tokens
from paperboy.web.auth import MAX_FORM_BYTES
from smtp_sink import SmtpSink

PAPER = "2405.01234"


@pytest.fixture
def paper(store: SQLStore) -> str:
    when = datetime(2024, 5, 3)
    store.upsert(
        [
            Record(
                Paper(PAPER, "A paper", "Abstract.", ("Ada",), ("cs.LG",), 1, when),
                FeedEntry(PAPER, when.date(), upvotes=5),
            )
        ]
    )
    return PAPER


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_token(web: TestClient, scope: str, name: str = "script") -> str:
    response = web.post("/settings/tokens", data=form(web, name=name, scope=scope))
    assert response.status_code == 200, page_error(response)
    return created_secret(response)


# -- made once, listed, revoked ------------------------------------------------------------------


def test_api_tokens_work_once_shown_and_die_when_revoked(
    web: TestClient, store: SQLStore, database_url: str
) -> None:
    user = make_user(store, "alice", admin=True)
    log_in(web, store, user)
    page = web.get("/settings")
    assert "alice@example.org" in page.text and "/settings/export.json" in page.text
    assert "You have no API tokens" in page.text

    created = web.post("/settings/tokens", data=form(web, name="laptop <script>", scope="admin"))
    assert created.status_code == 200 and "shown only this once" in created.text
    assert "laptop &lt;script&gt;" in created.text
    secret = created_secret(created)
    assert secret not in web.get("/settings").text  # never shown again

    anonymous = TestClient(web.app)
    me = whoami(anonymous, **bearer(secret))
    assert me.status_code == 200
    assert me.json() == {
        "type": "user",
        "id": str(user.id),
        "name": "alice",
        "email": "alice@example.org",
        "emailVerified": True,
        "isAdmin": True,
        "canWrite": True,
        "auth": {
            "type": "access_token",
            "accessToken": {"role": "admin", "scopes": ["read", "write", "admin"]},
        },
    }
    rows = sql_rows(database_url, "SELECT * FROM api_tokens")
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])
    (token_id,) = [t.id for t in store.accounts.api_tokens_of(user.id)]
    listing = web.get("/settings").text
    assert secret[:10] in listing and f"/settings/tokens/{token_id}/revoke" in listing
    assert '<td class="token-scopes">read, write, admin</td>' in listing

    revoked = web.post(f"/settings/tokens/{token_id}/revoke", data=form(web))
    assert revoked.status_code == 200 and "no longer works" in revoked.text
    refused = whoami(anonymous, **bearer(secret))
    assert refused.status_code == 401
    assert store.accounts.api_tokens_of(user.id)[0].revoked_at is not None
    entries = store.activity.audit_entries(actor_id=user.id)
    assert {"token-create", "token-revoke"} <= {e.action for e in entries}
    (made,) = [e for e in entries if e.action == "token-create"]
    assert made.detail == {"name": "laptop <script>", "scopes": ["read", "write", "admin"]}


def test_token_management_needs_a_browser_session(web: TestClient, store: SQLStore) -> None:
    user = make_user(store, "alice")
    _, secret = store.accounts.create_api_token(user.id, "script")
    response = web.post("/settings/tokens", data={"name": "minted"}, headers=bearer(secret))
    assert response.status_code == 403
    assert len(store.accounts.api_tokens_of(user.id)) == 1


def test_token_names_and_scopes_are_checked_and_others_tokens_cannot_be_revoked(
    web: TestClient, store: SQLStore
) -> None:
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    bobs, _ = store.accounts.create_api_token(bob.id, "bob's")
    log_in(web, store, alice)
    empty = web.post("/settings/tokens", data=form(web, name="   "))
    assert empty.status_code == 400 and "Give the token a name" in page_error(empty)
    long = web.post("/settings/tokens", data=form(web, name="x" * 101))
    assert long.status_code == 400 and "at most 100" in page_error(long)
    hidden = web.post("/settings/tokens", data=form(web, name="sneaky\u202egpj.exe"))
    assert hidden.status_code == 400 and "U+202E" in page_error(hidden)
    unknown = web.post("/settings/tokens", data=form(web, name="x", scope="root"))
    assert unknown.status_code == 400 and "read, write or admin" in page_error(unknown)
    other = web.post(f"/settings/tokens/{bobs.id}/revoke", data=form(web))
    assert other.status_code == 404
    assert store.accounts.api_tokens_of(bob.id)[0].revoked_at is None
    assert store.accounts.api_tokens_of(alice.id) == []


def test_only_moderators_can_make_admin_tokens(web: TestClient, store: SQLStore) -> None:
    log_in(web, store, make_user(store, "alice"))
    page = web.get("/settings").text
    assert 'value="write"' in page and 'value="admin"' not in page  # not even offered
    forged = web.post("/settings/tokens", data=form(web, name="x", scope="admin"))
    assert forged.status_code == 400 and "Only moderators" in page_error(forged)
    assert store.accounts.api_tokens_of(store.accounts.user_by_name("alice").id) == []  # type: ignore[union-attr]


# -- scopes enforced -------------------------------------------------------------------------------


def test_a_read_token_cannot_change_anything(web: TestClient, store: SQLStore, paper: str) -> None:
    log_in(web, store, make_user(store, "alice"))
    reader, writer = make_token(web, "read"), make_token(web, "write")
    script = TestClient(web.app)
    me = whoami(script, **bearer(reader)).json()
    assert me["auth"]["accessToken"] == {"role": "read", "scopes": ["read"]}
    assert me["canWrite"] is False
    assert script.get(f"/api/papers/{paper}", headers=bearer(reader)).status_code == 200
    for method in ("POST", "DELETE"):
        refused = script.request(method, f"/api/papers/{paper}/upvote", headers=bearer(reader))
        assert refused.status_code == 403 and "write scope" in refused.json()["error"]
    assert store.activity.count_votes(paper) == 0
    voted = script.post(f"/api/papers/{paper}/upvote", headers=bearer(writer))
    assert voted.status_code == 200 and voted.json()["upvoted"] is True
    assert store.activity.count_votes(paper) == 1


def test_moderating_with_a_token_needs_the_admin_scope(
    web: TestClient, store: SQLStore, paper: str
) -> None:
    log_in(web, store, make_user(store, "root", admin=True))
    bob = make_user(store, "bob")
    writer, admin = make_token(web, "write"), make_token(web, "admin")
    script = TestClient(web.app, follow_redirects=False)
    assert whoami(script, **bearer(writer)).json()["isAdmin"] is False
    assert script.get("/admin/users", headers=bearer(writer)).status_code == 403
    hide = f"/admin/users/{bob.id}/hide"
    refused = script.post(hide, headers=bearer(writer))
    assert refused.status_code == 403 and "admin scope" in refused.text
    refused = script.post(f"/papers/{paper}/hide", headers=bearer(writer))
    assert refused.status_code == 403
    assert not store.accounts.get_user(bob.id).hidden  # type: ignore[union-attr]
    assert store.activity.hidden_papers() == set()
    assert script.get("/admin/users", headers=bearer(admin)).status_code == 200
    assert script.post(hide, headers=bearer(admin)).status_code == 303
    assert store.accounts.get_user(bob.id).hidden  # type: ignore[union-attr]


def test_tokens_made_before_scopes_become_read_write_never_admin(
    new_database_url: object,
) -> None:
    url = new_database_url()  # type: ignore[operator]
    old = open_store(url, upgrade=False)
    try:
        migrate(old, "0007")
        admin = make_user(old, "root", admin=True)
        with old.engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    user_id=admin.id,
                    name="old script",
                    token_hash=digest("pb_from_before_scopes"),
                    prefix="pb_from_be",
                    created_at=datetime(2025, 1, 1),
                )
            )
        migrate(old)
        found = old.accounts.api_token_auth("pb_from_before_scopes")
        assert found is not None and found[1] == ("read", "write")
        (token,) = old.accounts.api_tokens_of(admin.id)
        assert token.scopes == ("read", "write") and token.role == "write"
    finally:
        old.close()


# -- bearer credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("credential", ["Bearer not-a-token", "Bearer pb_forged", "Bearer "])
def test_a_bearer_that_is_not_a_live_token_is_401_and_never_skips_csrf(
    web: TestClient, store: SQLStore, credential: str
) -> None:
    user = make_user(store, "alice")
    log_in(web, store, user)
    headers = {"Authorization": credential}
    # A session cookie and no CSRF token: before, any non-pb_ bearer skipped the CSRF check.
    sneaky = web.post("/settings/tokens", data={"name": "minted"}, headers=headers)
    assert sneaky.status_code == 401 and sneaky.headers["WWW-Authenticate"].startswith("Bearer")
    assert store.accounts.api_tokens_of(user.id) == []
    assert web.get("/api/whoami", headers=headers).status_code == 401
    assert web.get("/api/whoami").status_code == 200  # the session itself still works


def test_the_push_ingest_bearer_still_works(make_client: ClientFactory, store: SQLStore) -> None:
    pusher = make_client(ingest_token=SecretStr("s3cret-ingest-token"))
    item = {"id": "2405.04321", "title": "Pushed", "summary": "Abstract.", "authors": ["Bo"]}
    pushed = pusher.post("/api/papers/import", json=[item], headers=bearer("s3cret-ingest-token"))
    assert pushed.status_code == 200, pushed.text
    assert store.get_paper("2405.04321") is not None
    wrong = pusher.post("/api/papers/import", json=[item], headers=bearer("guess"))
    assert wrong.status_code in (401, 403)


def test_a_token_request_body_is_capped(web: TestClient, store: SQLStore, paper: str) -> None:
    _, secret = store.accounts.create_api_token(make_user(store, "alice").id, "script")
    body = b"x" * (MAX_FORM_BYTES + 1)
    response = web.post(f"/api/papers/{paper}/upvote", content=body, headers=bearer(secret))
    assert response.status_code == 413
    assert store.activity.count_votes(paper) == 0


# -- passwords revoke tokens -----------------------------------------------------------------------


def test_a_password_change_revokes_every_api_token_and_says_so(
    web: TestClient, store: SQLStore
) -> None:
    user = make_user(store, "alice")
    log_in(web, store, user)
    secrets = [make_token(web, "read", "one"), make_token(web, "write", "two")]
    assert "revokes all your API tokens" in web.get("/settings").text  # said before
    done = web.post(
        "/settings/password",
        data=form(web, current=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD),
    )
    assert done.status_code == 200 and "all your API tokens revoked" in done.text  # and after
    script = TestClient(web.app)
    assert all(whoami(script, **bearer(s)).status_code == 401 for s in secrets)
    assert all(t.revoked_at is not None for t in store.accounts.api_tokens_of(user.id))
    (entry,) = [
        e for e in store.activity.audit_entries(actor_id=user.id) if e.action == "password-change"
    ]
    assert entry.detail == {"tokens_revoked": 2}


def test_a_password_reset_revokes_every_api_token_and_says_so(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    user = make_user(store, "alice")
    _, secret = store.accounts.create_api_token(user.id, "script")
    web.post("/password/forgot", data=form(web, email="alice@example.org"))
    link = mail_link(smtp_sink.wait_for(1)[0], "/password/reset")
    assert "revokes all your API" in web.get(link).text  # said before
    done = web.post(
        "/password/reset",
        data=form(web, token=link_token(link), password=NEW_PASSWORD, password2=NEW_PASSWORD),
    )
    assert done.status_code == 200 and "all your API tokens revoked" in done.text  # and after
    assert whoami(TestClient(web.app), **bearer(secret)).status_code == 401
