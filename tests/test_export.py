"""The user's data export (``/settings/export.json``) and BibTeX lists (``/bibtex``,
``/collections/{id}.bib``), over HTTP on a real store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from community import form, log_in, make_user
from demo import demo_record, rows_between
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.store import SQLStore
from paperboy.store.collections import CollectionStore
from paperboy.store.schema import comments
from test_bibtex import braces_balanced, parse

BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"


@pytest.fixture
def records(store: SQLStore) -> list[Record]:
    found = [demo_record(row) for row in rows_between("2024-12-02", "2024-12-02")]
    store.upsert(found)
    return found


def add_comment(store: SQLStore, user: User, paper_id: str, body: str, **flags: Any) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.engine.begin() as conn:
        conn.execute(
            insert(comments).values(
                paper_id=paper_id, user_id=user.id, body=body, created_at=now, **flags
            )
        )


def bib_entries(text: str) -> list[tuple[str, dict[str, str]]]:
    """Each ``@misc`` entry of a BibTeX body, parsed like tests/test_bibtex.py does."""
    assert braces_balanced(text)
    chunks = re.split(r"(?m)^(?=@misc\{)", text)
    return [parse(chunk.rstrip("\n") + "\n") for chunk in chunks if chunk.startswith("@misc")]


# --------------------------------------------------------------------------- export


def test_export_holds_what_the_user_made_and_no_secret(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    bob = make_user(store, "bob")
    first, second, third = (r.paper for r in records[:3])
    store.activity.set_vote(alice.id, first.id, True)
    store.activity.set_vote(alice.id, second.id, True)
    store.activity.set_vote(bob.id, third.id, True)
    now = datetime.now(UTC).replace(tzinfo=None)
    add_comment(store, alice, first.id, "Great **paper**")
    add_comment(store, alice, second.id, "Gone", deleted_at=now)
    add_comment(store, alice, second.id, "Moderated", hidden_at=now, hidden_by=bob.id)
    add_comment(store, bob, first.id, "bob's words")
    _token, secret = store.accounts.create_api_token(alice.id, "laptop")
    old, _ = store.accounts.create_api_token(alice.id, "old script")
    store.accounts.revoke_api_token(alice.id, old.id)
    store.ratings.rate(alice.id, second.id, -1, "card")
    store.ratings.rate(bob.id, third.id, 1, "card")
    store.ratings.set_follows(alice.id, categories=["cs.CL"], authors=["Ada Lovelace"])

    log_in(client, store, alice)
    client.post("/collections", data=form(client, name="Reading", description="soon", public="on"))
    (reading,) = CollectionStore(store.engine).of_user(alice.id)
    client.post(
        f"/collections/{reading.id}/items", data=form(client, paper_id=first.id, note="must read")
    )
    client.post("/collections", data=form(client, name="Empty"))

    response = client.get("/settings/export.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == 'attachment; filename="paperboy-alice.json"'
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["account"] == {
        "id": alice.id,
        "username": "alice",
        "email": "alice@example.org",
        "created": alice.created_at.isoformat(),
        "verified": True,
        "admin": False,
    }
    assert sorted((v["paper_id"], v["title"]) for v in data["votes"]) == sorted(
        [(first.id, first.title), (second.id, second.title)]
    )
    assert all(datetime.fromisoformat(v["voted"]) for v in data["votes"])
    by_name = {c["name"]: c for c in data["collections"]}
    assert set(by_name) == {"Reading", "Empty"}
    assert by_name["Reading"]["public"] is True and by_name["Reading"]["description"] == "soon"
    assert [(i["paper_id"], i["title"], i["note"]) for i in by_name["Reading"]["items"]] == [
        (first.id, first.title, "must read")
    ]
    assert by_name["Empty"]["items"] == [] and by_name["Empty"]["public"] is False
    assert [(c["body"], c["deleted"], c["hidden"]) for c in data["comments"]] == [
        ("Great **paper**", False, False),
        ("Gone", True, False),
        ("Moderated", False, True),
    ]
    assert data["comments"][0]["paper_id"] == first.id and data["comments"][0]["edited"] is None
    assert [(r["paper"], r["value"], r["from"]) for r in data["ratings"]] == [
        (second.id, -1, "card")
    ]
    assert data["following"] == {"categories": ["cs.CL"], "authors": ["Ada Lovelace"]}
    tokens = {t["name"]: t for t in data["api_tokens"]}
    assert set(tokens) == {"laptop", "old script"}
    assert tokens["laptop"]["prefix"] == secret[:10] and tokens["laptop"]["revoked"] is None
    assert tokens["old script"]["revoked"] is not None

    raw = response.text
    user = store.accounts.get_user(alice.id)
    assert user is not None and user.password_hash
    assert user.password_hash not in raw
    assert "argon2" not in raw
    assert secret not in raw and secret[10:] not in raw
    assert "token_hash" not in raw and "password" not in raw
    assert client.cookies.get("pb_session") not in raw
    assert "bob's words" not in raw and third.id not in raw  # nothing of bob's


def test_export_with_an_api_token_and_logged_out(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    _token, secret = store.accounts.create_api_token(alice.id, "script")
    response = client.get("/settings/export.json", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json()["account"]["username"] == "alice"
    logged_out = TestClient(client.app).get("/settings/export.json", follow_redirects=False)
    assert logged_out.status_code == 303
    assert logged_out.headers["location"] == "/login?next=%2Fsettings%2Fexport.json"


# --------------------------------------------------------------------------- BibTeX


def test_bibtex_for_a_list_of_ids(
    client: TestClient, store: SQLStore, records: list[Record]
) -> None:
    first, second = records[0].paper, records[1].paper
    ids = f"{first.id}, arXiv:{second.id}v3,2101.99999,{first.id},@misc{{evil,,"
    response = client.get("/bibtex", params={"ids": ids})
    assert response.status_code == 200
    assert response.headers["content-type"] == BIBTEX_TYPE
    text = response.text
    assert text.startswith("% not found: 2101.99999\n% not found: miscevil\n")
    entries = bib_entries(text)
    assert [fields["eprint"] for _, fields in entries] == [first.id, second.id]
    assert entries[0][1]["title"] == "{" + first.title + "}"
    assert text.count("@") == 2  # the hostile id cannot start an entry


def test_bibtex_limits_and_hidden_papers(
    client: TestClient, store: SQLStore, records: list[Record]
) -> None:
    admin = make_user(store, "admin", admin=True)
    assert client.get("/bibtex").status_code == 400
    too_many = ",".join(f"2401.{n:05d}" for n in range(201))
    response = client.get("/bibtex", params={"ids": too_many})
    assert response.status_code == 400 and "At most 200" in response.text
    exactly = ",".join([records[0].paper.id] + [f"2401.{n:05d}" for n in range(199)])
    allowed = client.get("/bibtex", params={"ids": exactly})
    assert allowed.status_code == 200
    assert allowed.text.count("% not found:") == 199 and len(bib_entries(allowed.text)) == 1

    hidden = records[1].paper.id
    store.activity.set_paper_hidden(admin.id, hidden, True, "spam")
    listed = client.get("/bibtex", params={"ids": f"{records[0].paper.id},{hidden}"}).text
    assert f"% not found: {hidden}" in listed and len(bib_entries(listed)) == 1


def test_collection_bibtex_follows_the_collection_visibility(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    collections = CollectionStore(store.engine)
    public = collections.create(alice.id, "Public", is_public=True)
    private = collections.create(alice.id, "Private")
    for collection in (public, private):
        for record in records[:4]:
            collections.add_item(alice.id, collection.id, record.paper.id, "a {note}")
    anonymous = client.get(f"/collections/{public.id}.bib")
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"] == BIBTEX_TYPE
    ids = [fields["eprint"] for _, fields in bib_entries(anonymous.text)]
    assert ids == [r.paper.id for r in reversed(records[:4])]
    missing = client.get("/collections/987654.bib")
    hidden = client.get(f"/collections/{private.id}.bib")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text.replace("987654", str(private.id))
    log_in(client, store, alice)
    own = client.get(f"/collections/{private.id}.bib")
    assert own.status_code == 200 and len(bib_entries(own.text)) == 4
