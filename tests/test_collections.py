"""Collections: pages, forms, JSON and the paper page's panel, on real papers and a real store.

Covers the rules (owner only, names unique per user, lengths), visibility (a private collection
is the same 404 as a missing one for everybody but its owner, on every route), escaping of
hostile names, descriptions and notes, CSRF on every form, and the store's transactions.
"""

from __future__ import annotations

import html
import re
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from community import csrf_token, form, log_in, make_user
from demo import demo_record, rows_between
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.store import SQLStore
from paperboy.store.collections import CollectionStore, NameTaken

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MISSING = 987654  # no collection has this id


@pytest.fixture
def records(store: SQLStore) -> list[Record]:
    """Real papers of 2024-12-02 and 2024-12-04 (15 each)."""
    found = [demo_record(row) for row in rows_between("2024-12-02", "2024-12-04")]
    store.upsert(found)
    return found


def other_client(client: TestClient) -> TestClient:
    """A second browser on the same app (its own cookies)."""
    return TestClient(client.app)


def create(client: TestClient, name: str, *, public: bool = False, description: str = "") -> int:
    fields: dict[str, Any] = {"name": name, "description": description}
    if public:
        fields["public"] = "on"
    response = client.post("/collections", data=form(client, **fields), follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/collections/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match[1])


def add(client: TestClient, cid: int, paper_id: str, note: str = "") -> None:
    response = client.post(
        f"/collections/{cid}/items",
        data=form(client, paper_id=paper_id, note=note),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/collections/{cid}"


def item_ids(page: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', page)


def same_404(client: TestClient, cid: int, path: str) -> None:
    """``path`` (with ``{}`` for the id) answers for ``cid`` exactly as for a missing one."""
    hidden = client.get(path.format(cid))
    missing = client.get(path.format(MISSING))
    assert hidden.status_code == missing.status_code == 404, path
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    assert hidden.text == missing.text.replace(str(MISSING), str(cid))


# --------------------------------------------------------------------------- life cycle


def test_create_rename_delete(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    log_in(client, store, alice)
    cid = create(client, "  Reading   list ", description="Papers to read")
    page = client.get("/collections")
    assert page.status_code == 200
    assert f'href="/collections/{cid}">Reading list</a>' in page.text  # spaces collapsed
    assert "0 papers" in page.text and "Private" in page.text

    response = client.post(
        f"/collections/{cid}/edit",
        data=form(client, name="Read later", description="New words", public="on"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/collections/{cid}"
    shown = client.get(f"/collections/{cid}")
    assert "<h1" in shown.text and "Read later</h1>" in shown.text
    assert "New words" in shown.text and "Public collection" in shown.text
    found = CollectionStore(store.engine).get(cid)
    assert found is not None
    assert (found.name, found.description, found.is_public) == ("Read later", "New words", True)

    # unticking the box makes it private again
    client.post(f"/collections/{cid}/edit", data=form(client, name="Read later"))
    again = CollectionStore(store.engine).get(cid)
    assert again is not None and again.is_public is False and again.description == ""

    response = client.post(f"/collections/{cid}/delete", data=form(client), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/collections"
    assert client.get(f"/collections/{cid}").status_code == 404
    assert CollectionStore(store.engine).get(cid) is None
    actions = [e.action for e in store.activity.audit_entries(target=("collection", str(cid)))]
    assert actions == [
        "collection_delete",
        "collection_update",
        "collection_update",
        "collection_create",
    ]


def test_add_note_remove(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    log_in(client, store, alice)
    first, second = records[0].paper, records[1].paper
    cid = create(client, "Mine")
    add(client, cid, first.id, "first note")
    add(client, cid, f"arXiv:{second.id}v2", "")  # any form of the id names the paper
    page = client.get(f"/collections/{cid}").text
    assert item_ids(page) == [second.id, first.id]  # newest added first
    assert "first note" in page and "2 papers" in page

    add(client, cid, first.id, "changed by adding again")
    items, total = CollectionStore(store.engine).items(cid)
    assert total == 2
    assert [(i.paper.id, i.note) for i in items] == [
        (second.id, ""),
        (first.id, "changed by adding again"),  # kept its place
    ]

    response = client.post(
        f"/collections/{cid}/items/{second.id}/note",
        data=form(client, note="now with a note"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "now with a note" in client.get(f"/collections/{cid}").text

    response = client.post(
        f"/collections/{cid}/items/{first.id}/remove", data=form(client), follow_redirects=False
    )
    assert response.status_code == 303
    assert item_ids(client.get(f"/collections/{cid}").text) == [second.id]
    again = client.post(f"/collections/{cid}/items/{first.id}/remove", data=form(client))
    assert again.status_code == 404
    note = client.post(f"/collections/{cid}/items/{first.id}/note", data=form(client, note="x"))
    assert note.status_code == 404

    unknown = client.post(
        f"/collections/{cid}/items", data=form(client, paper_id="2101.99999", note="")
    )
    assert unknown.status_code == 404
    garbage = client.post(f"/collections/{cid}/items", data=form(client, paper_id="nonsense"))
    assert garbage.status_code == 404
    actions = [e.action for e in store.activity.audit_entries(target=("collection", str(cid)))]
    assert actions[:3] == ["collection_remove", "collection_note", "collection_note"]
    assert actions.count("collection_add") == 2


def test_duplicate_name_is_409(
    client: TestClient, store: SQLStore, records: list[Record], alice: User, bob: User
) -> None:
    log_in(client, store, alice)
    create(client, "Reading")
    other = create(client, "Other")
    response = client.post("/collections", data=form(client, name=" reading "))
    assert response.status_code == 409
    assert "You already have a collection called “reading”" in response.text
    assert 'value=" reading "' in response.text  # the form comes back filled in
    rename = client.post(f"/collections/{other}/edit", data=form(client, name="READING"))
    assert rename.status_code == 409
    assert "already have a collection called" in rename.text
    assert [c.name for c in CollectionStore(store.engine).of_user(alice.id)] == [
        "Other",
        "Reading",
    ]
    # the store refuses too, and another user may use the name
    with pytest.raises(NameTaken):
        CollectionStore(store.engine).create(alice.id, "Reading")
    assert CollectionStore(store.engine).create(bob.id, "Reading").owner == "bob"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "Give the collection a name"),
        ({"name": "x" * 201}, "at most 200 characters"),
        ({"name": "ok", "description": "d" * 2001}, "at most 2000 characters"),
    ],
)
def test_invalid_collection_is_400(
    client: TestClient, store: SQLStore, alice: User, fields: dict[str, str], message: str
) -> None:
    log_in(client, store, alice)
    response = client.post("/collections", data=form(client, **fields))
    assert response.status_code == 400
    assert message in response.text
    assert CollectionStore(store.engine).of_user(alice.id) == []


def test_limits_on_notes_and_names(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    log_in(client, store, alice)
    assert create(client, "n" * 200)  # exactly the limit is fine
    cid = create(client, "Notes")
    paper = records[0].paper.id
    long_note = client.post(
        f"/collections/{cid}/items", data=form(client, paper_id=paper, note="n" * 2001)
    )
    assert long_note.status_code == 400 and "at most 2000 characters" in long_note.text
    add(client, cid, paper, "n" * 2000)
    edit = client.post(f"/collections/{cid}/items/{paper}/note", data=form(client, note="m" * 2001))
    assert edit.status_code == 400
    assert CollectionStore(store.engine).items(cid)[0][0].note == "n" * 2000


def test_logged_out_is_sent_to_log_in(client: TestClient) -> None:
    response = client.get("/collections", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcollections"
    response = client.post("/collections", data=form(client, name="x"), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_unverified_user_keeps_collections_private(client: TestClient, store: SQLStore) -> None:
    carol = make_user(store, "carol", verified=False)
    log_in(client, store, carol)
    cid = create(client, "Private is fine")
    public = client.post("/collections", data=form(client, name="Shout", public="on"))
    assert public.status_code == 403
    assert "Verify your email address" in public.text
    edit = client.post(f"/collections/{cid}/edit", data=form(client, name="x", public="on"))
    assert edit.status_code == 403
    found = CollectionStore(store.engine).get(cid)
    assert found is not None and not found.is_public and found.name == "Private is fine"


# --------------------------------------------------------------------------- visibility


PRIVATE_ROUTES = (
    "/collections/{}",
    "/api/collections/{}",
    "/collections/{}/feed.rss",
    "/collections/{}/feed.atom",
    "/collections/{}.bib",
)


def test_private_collection_is_404_for_everybody_else(
    client: TestClient, store: SQLStore, records: list[Record], alice: User, bob: User
) -> None:
    log_in(client, store, alice)
    cid = create(client, "Secret plans", description="do not look")
    add(client, cid, records[0].paper.id, "secret note")
    assert client.get(f"/collections/{cid}").status_code == 200
    assert client.get(f"/api/collections/{cid}").status_code == 200
    assert client.get(f"/collections/{cid}.bib").status_code == 200
    # not even its owner gets a feed of a private collection
    assert client.get(f"/collections/{cid}/feed.atom").status_code == 404

    anonymous = other_client(client)
    bobs = other_client(client)
    log_in(bobs, store, bob)
    for visitor in (anonymous, bobs):
        for path in PRIVATE_ROUTES:
            same_404(visitor, cid, path)
        for path in PRIVATE_ROUTES:
            assert "Secret plans" not in visitor.get(path.format(cid)).text
    api = anonymous.get(f"/api/collections/{cid}")
    assert api.json() == {"error": "No such collection."}

    # bob cannot change it either: the same 404, and nothing changes
    paper = records[0].paper.id
    for path, fields in (
        (f"/collections/{cid}/edit", {"name": "Mine now"}),
        (f"/collections/{cid}/delete", {}),
        (f"/collections/{cid}/items", {"paper_id": records[1].paper.id}),
        (f"/collections/{cid}/items/{paper}/note", {"note": "bob was here"}),
        (f"/collections/{cid}/items/{paper}/remove", {}),
    ):
        response = bobs.post(path, data=form(bobs, **fields))
        assert response.status_code == 404, path
    items, total = CollectionStore(store.engine).items(cid)
    assert total == 1 and items[0].note == "secret note"
    assert CollectionStore(store.engine).get(cid).name == "Secret plans"  # type: ignore[union-attr]
    assert 'href="/collections/' not in bobs.get("/users/alice/collections").text


def test_public_collection_is_visible_to_all_but_changed_by_its_owner_only(
    client: TestClient, store: SQLStore, records: list[Record], alice: User, bob: User
) -> None:
    log_in(client, store, alice)
    cid = create(client, "Best of December", public=True, description="Hand-picked")
    private = create(client, "Drafts")
    add(client, cid, records[0].paper.id, "a gem")
    anonymous = other_client(client)
    bobs = other_client(client)
    log_in(bobs, store, bob)
    for visitor in (anonymous, bobs):
        page = visitor.get(f"/collections/{cid}")
        assert page.status_code == 200
        assert "Best of December" in page.text and "a gem" in page.text
        assert item_ids(page.text) == [records[0].paper.id]
        assert f'action="/collections/{cid}/edit"' not in page.text  # no owner forms
        assert "/remove" not in page.text
        data = visitor.get(f"/api/collections/{cid}").json()
        assert data["name"] == "Best of December" and data["owner"] == "alice"
        assert [i["note"] for i in data["items"]] == ["a gem"]
        listing = visitor.get("/users/alice/collections")
        assert f'href="/collections/{cid}"' in listing.text
        assert f'href="/collections/{private}"' not in listing.text and "Drafts" not in listing.text
    owner_page = client.get(f"/collections/{cid}").text
    assert f'action="/collections/{cid}/edit"' in owner_page
    assert f'action="/collections/{cid}/items/{records[0].paper.id}/remove"' in owner_page

    edit = bobs.post(f"/collections/{cid}/edit", data=form(bobs, name="Bob's now"))
    assert edit.status_code == 403
    delete = bobs.post(f"/collections/{cid}/delete", data=form(bobs))
    assert delete.status_code == 403
    assert CollectionStore(store.engine).get(cid).name == "Best of December"  # type: ignore[union-attr]
    assert anonymous.get("/users/nobody/collections").status_code == 404


def test_pages_of_a_long_collection(client: TestClient, store: SQLStore, alice: User) -> None:
    records = [demo_record(row) for row in rows_between("2024-12-02", "2024-12-10")][:25]
    store.upsert(records)
    collections = CollectionStore(store.engine)
    cid = collections.create(alice.id, "Long", is_public=True).id
    for record in records:
        assert collections.add_item(alice.id, cid, record.paper.id, "") is True
    newest_first = [r.paper.id for r in reversed(records)]
    first = client.get(f"/collections/{cid}")
    second = client.get(f"/collections/{cid}?page=2")
    assert item_ids(first.text) == newest_first[:20]
    assert item_ids(second.text) == newest_first[20:]
    assert f'href="/collections/{cid}?page=2"' in first.text
    assert "25 papers" in first.text
    beyond = client.get(f"/collections/{cid}?page=3")
    assert beyond.status_code == 200 and item_ids(beyond.text) == []
    data = client.get(f"/api/collections/{cid}?per_page=10&page=3").json()
    assert [i["paper_id"] for i in data["items"]] == newest_first[20:]
    assert data["total"] == 25
    assert client.get(f"/api/collections/{cid}?per_page=101").status_code == 400


def test_hidden_paper_is_shown_to_the_owner_only(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    admin = make_user(store, "admin", admin=True)
    log_in(client, store, alice)
    cid = create(client, "Public", public=True)
    hidden, kept = records[0].paper.id, records[1].paper.id
    add(client, cid, hidden, "soon hidden")
    add(client, cid, kept)
    store.activity.set_paper_hidden(admin.id, hidden, True, "spam")
    owner_page = client.get(f"/collections/{cid}").text
    assert item_ids(owner_page) == [kept, hidden]
    assert "Hidden by the moderators" in owner_page
    anonymous = other_client(client).get(f"/collections/{cid}").text
    assert item_ids(anonymous) == [kept]
    assert "soon hidden" not in anonymous


# --------------------------------------------------------------------------- escaping


def test_hostile_text_is_escaped_everywhere(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    log_in(client, store, alice)
    name = f"{SCRIPT} {IMG}"
    description = f"desc {IMG} {SCRIPT}"
    note = f"note {SCRIPT}{IMG}"
    paper = records[0].paper.id
    cid = create(client, name, public=True, description=description)
    add(client, cid, paper, note)

    pages = [
        client.get(f"/collections/{cid}").text,
        client.get("/collections").text,
        client.get("/users/alice/collections").text,
        client.get(f"/papers/{paper}").text,  # the panel: select option and holding list
        other_client(client).get(f"/collections/{cid}").text,
    ]
    for page in pages:
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    collection_page = pages[0]
    for text in (name, description, note):
        assert html.escape(text, quote=False).replace('"', "&#34;") in collection_page
    # attribute values stay inside their quotes (the feed link's title)
    assert 'title="&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img' in collection_page

    data = client.get(f"/api/collections/{cid}")
    assert data.headers["content-type"] == "application/json"
    body = data.json()
    assert (body["name"], body["description"], body["items"][0]["note"]) == (
        name,
        description,
        note,
    )

    for kind in ("rss", "atom"):
        raw = client.get(f"/collections/{cid}/feed.{kind}").content
        assert b"<script" not in raw and b"<img" not in raw
        parsed = feedparser.parse(raw)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.feed.title.startswith(name)
        subtitle = parsed.feed.get("subtitle", parsed.feed.get("description"))
        summary = parsed.entries[0].summary
        if kind == "rss":  # RSS descriptions are HTML: the text is escaped inside them
            subtitle, summary = html.unescape(subtitle), html.unescape(summary)
        assert subtitle == description
        assert summary.startswith(f"Note: {note}\n\n")


# --------------------------------------------------------------------------- CSRF


def test_every_form_needs_the_csrf_token(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    log_in(client, store, alice)
    cid = create(client, "Guarded", public=True)
    paper = records[0].paper.id
    add(client, cid, paper, "kept")
    assert csrf_token(client)
    routes = [
        ("/collections", {"name": "Forged"}),
        ("/collections/save", {"paper_id": paper, "new_name": "Forged"}),
        (f"/collections/{cid}/edit", {"name": "Forged"}),
        (f"/collections/{cid}/delete", {}),
        (f"/collections/{cid}/items", {"paper_id": records[1].paper.id, "note": "forged"}),
        (f"/collections/{cid}/items/{paper}/note", {"note": "forged"}),
        (f"/collections/{cid}/items/{paper}/remove", {}),
    ]
    for path, fields in routes:
        missing = client.post(path, data=fields, follow_redirects=False)
        assert missing.status_code == 403, path
        wrong = client.post(path, data={**fields, "csrf_token": "0" * 64}, follow_redirects=False)
        assert wrong.status_code == 403, path
    collections = CollectionStore(store.engine)
    assert [c.name for c in collections.of_user(alice.id)] == ["Guarded"]
    items, _ = collections.items(cid)
    assert [(i.paper.id, i.note) for i in items] == [(paper, "kept")]


# --------------------------------------------------------------------------- the paper page


def test_paper_page_save_form(
    client: TestClient, store: SQLStore, records: list[Record], alice: User
) -> None:
    paper = records[0].paper.id
    anonymous = client.get(f"/papers/{paper}").text
    assert 'action="/collections/save"' not in anonymous
    assert "to save this paper to a collection" in anonymous

    log_in(client, store, alice)
    page = client.get(f"/papers/{paper}").text
    assert 'action="/collections/save"' in page
    assert 'name="collection_id"' not in page  # no collection yet: only a name to type
    assert "In your collections" not in page

    response = client.post(
        "/collections/save",
        data=form(client, paper_id=paper, new_name="Quick saves", note="from the page"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{paper}#collect"
    collections = CollectionStore(store.engine)
    (saved,) = collections.of_user(alice.id)
    assert saved.name == "Quick saves" and saved.item_count == 1

    other = create(client, "Another")
    page = client.get(f"/papers/{paper}").text
    assert f'<option value="{saved.id}">Quick saves</option>' in page
    assert f'<option value="{other}">Another</option>' in page
    assert re.search(
        rf'In your collections:\s*<a href="/collections/{saved.id}">Quick saves</a>', page
    )

    # picking the collection again replaces the note; typing an existing name reuses it
    client.post("/collections/save", data=form(client, paper_id=paper, collection_id=saved.id))
    assert collections.items(saved.id)[0][0].note == ""
    client.post("/collections/save", data=form(client, paper_id=paper, new_name="quick SAVES"))
    assert len(collections.of_user(alice.id)) == 2
    nothing = client.post("/collections/save", data=form(client, paper_id=paper))
    assert nothing.status_code == 400


# --------------------------------------------------------------------------- the store


def test_store_writes_are_audited_and_public_ones_bump_the_revision(
    store: SQLStore, records: list[Record], alice: User
) -> None:
    collections = CollectionStore(store.engine)
    paper = records[0].paper.id
    before = store.revision()
    private = collections.create(alice.id, "Private")
    collections.add_item(alice.id, private.id, paper, "n")
    collections.update_note(alice.id, private.id, paper, "m")
    collections.remove_item(alice.id, private.id, paper)
    assert store.revision() == before  # nothing anonymous visitors can see changed

    public = collections.create(alice.id, "Public", is_public=True)
    assert store.revision() == before + 1
    assert collections.add_item(alice.id, public.id, paper, "n") is True
    assert collections.add_item(alice.id, public.id, paper, "again") is False
    assert store.revision() == before + 3
    collections.update(alice.id, private.id, is_public=True)  # made public: visible now
    assert store.revision() == before + 4
    collections.update(alice.id, private.id, is_public=False)  # and hidden again
    assert store.revision() == before + 5
    assert collections.delete(alice.id, public.id) is True
    assert store.revision() == before + 6
    assert collections.delete(alice.id, public.id) is False
    assert collections.update(alice.id, public.id, name="x") is False

    entries = store.activity.audit_entries(actor_id=alice.id, limit=100)
    assert [e.action for e in entries].count("collection_create") == 2
    note = next(e for e in entries if e.action == "collection_note")
    assert note.detail == {"paper_id": paper, "note": "again"}
    assert all(e.target_type == "collection" for e in entries)


def test_holding_and_counts(store: SQLStore, records: list[Record], alice: User, bob: User) -> None:
    collections = CollectionStore(store.engine)
    paper = records[0].paper.id
    a = collections.create(alice.id, "B list")
    b = collections.create(alice.id, "A list")
    c = collections.create(bob.id, "Bob's")
    for cid in (a.id, b.id, c.id):
        collections.add_item(alice.id, cid, paper)
    collections.add_item(alice.id, a.id, records[1].paper.id)
    assert [x.name for x in collections.holding(alice.id, paper)] == ["A list", "B list"]
    counts = {x.name: x.item_count for x in collections.of_user(alice.id)}
    assert counts == {"A list": 1, "B list": 2}
    assert collections.holding(alice.id, records[2].paper.id) == []
