"""A reader's private ratings and follows: the store rows and the rules of the service."""

from __future__ import annotations

from datetime import date

import pytest

from community import day_records, make_user  # tests/community.py
from paperboy.community.models import User
from paperboy.community.ratings import MAX_AUTHOR_NAME, RatingInvalid, Ratings
from paperboy.errors import LoginRequired, PaperNotFound
from paperboy.settings import Settings
from paperboy.store import SQLStore

DAY = date(2024, 5, 6)
IDS = {"2405.00001": "Sparse attention", "2405.00002": "Dense retrieval", "2405.00003": "Graphs"}


@pytest.fixture
def ratings(store: SQLStore, settings: Settings) -> Ratings:
    store.upsert(day_records(DAY, IDS, abstract="An abstract.", upvotes=1))
    return Ratings(store, settings)


def test_rate_replace_and_take_back(ratings: Ratings, store: SQLStore, alice: User) -> None:
    assert ratings.rate(alice, "2405.00001", 1, "card").value == 1
    outcome = ratings.rate(alice, "arXiv:2405.00001v2", -1, "paper")  # replaces: same paper
    assert (outcome.paper_id, outcome.value) == ("2405.00001", -1)
    assert store.ratings.values_for(alice.id, list(IDS)) == {"2405.00001": -1}
    assert store.ratings.count_of(alice.id) == {-1: 1}
    assert ratings.rate(alice, "2405.00001", 0, "paper").value == 0
    assert store.ratings.values_for(alice.id, list(IDS)) == {}
    assert ratings.rate(alice, "2405.00001", 0, "paper").value == 0  # twice is fine


def test_ratings_are_private_to_their_owner(ratings: Ratings, alice: User, bob: User) -> None:
    ratings.rate(alice, "2405.00001", 1, "card")
    assert ratings.of(alice, list(IDS)) == {"2405.00001": 1}
    assert ratings.of(bob, list(IDS)) == {}
    assert ratings.of(None, list(IDS)) == {}
    with pytest.raises(LoginRequired):
        ratings.rate(None, "2405.00001", 1, "card")


def test_bad_ratings_are_refused(ratings: Ratings, alice: User) -> None:
    with pytest.raises(RatingInvalid):
        ratings.rate(alice, "2405.00001", 2, "card")
    with pytest.raises(RatingInvalid):
        ratings.rate(alice, "2405.00001", 1, "<script>")
    with pytest.raises(PaperNotFound):
        ratings.rate(alice, "2405.09999", 1, "card")


def test_hidden_papers_cannot_be_rated(
    ratings: Ratings, store: SQLStore, alice: User, admin: User
) -> None:
    store.activity.set_paper_hidden(admin.id, "2405.00002", True, "spam")
    with pytest.raises(PaperNotFound):
        ratings.rate(alice, "2405.00002", 1, "card")


def test_page_lists_newest_first(ratings: Ratings, alice: User) -> None:
    for pid in IDS:
        ratings.rate(alice, pid, 1, "card")
    rows, total = ratings.page(alice)
    assert total == 3
    assert [r.paper.id for r in rows] == list(reversed(list(IDS)))


def test_follows_are_validated(ratings: Ratings, alice: User) -> None:
    profile = ratings.follow(alice, categories="cs.CL, stat", authors=[" Ada  Lovelace ", ""])
    assert profile.categories == ("cs.CL", "stat")
    assert profile.authors == ("Ada Lovelace",)
    with pytest.raises(RatingInvalid):
        ratings.follow(alice, categories="-cs.CY", authors=[])
    with pytest.raises(RatingInvalid):
        ratings.follow(alice, categories="<b>", authors=[])
    with pytest.raises(RatingInvalid):
        ratings.follow(alice, categories="", authors=["x" * (MAX_AUTHOR_NAME + 1)])
    with pytest.raises(RatingInvalid):
        ratings.follow(alice, categories="", authors=["Ada\u202eLovelace"])
    assert ratings.profile(alice).categories == ("cs.CL", "stat")  # refusals changed nothing


def test_forget_and_account_deletion_remove_everything(
    ratings: Ratings, store: SQLStore, alice: User
) -> None:
    ratings.rate(alice, "2405.00001", 1, "card")
    ratings.follow(alice, categories="cs.CL", authors=["Ada Lovelace"])
    assert ratings.forget(alice) == 1
    assert store.ratings.profile(alice.id).categories == ()
    carol = make_user(store, "carol")
    ratings.rate(carol, "2405.00001", -1, "card")
    store.ratings.feed_key(carol.id)
    store.accounts.delete_user(carol.id)
    assert store.ratings.values_for(carol.id, list(IDS)) == {}
    assert store.ratings.profile(carol.id).feed_key is None


def test_feed_key_is_stable_until_renewed(ratings: Ratings, store: SQLStore, alice: User) -> None:
    key = store.ratings.feed_key(alice.id)
    assert store.ratings.feed_key(alice.id) == key
    assert store.ratings.user_of_feed_key(key) == alice.id
    renewed = store.ratings.feed_key(alice.id, renew=True)
    assert renewed != key
    assert store.ratings.user_of_feed_key(key) is None
    assert store.ratings.user_of_feed_key(renewed) == alice.id


def test_cold_start_fetches_missing_arxiv_papers_through_the_client(
    store: SQLStore, database_url: str, alice: User
) -> None:
    """A seed paper not in the store is fetched from (a replay of) arXiv's API and rated."""
    from arxiv_replay import ArxivReplay
    from conftest import shared_path
    from paperboy.community.cold_start import ColdStart

    atom = shared_path("data/arxiv-fixtures/atom_api")
    with ArxivReplay(atom) as replay:
        config = Settings(
            database_url=database_url,
            arxiv_api_url=f"{replay.url}/api/query",
            arxiv_min_interval=0.0,
            arxiv_retries=0,
            arxiv_timeout=5.0,
        )
        cold = ColdStart(store, config, search=lambda: None)  # type: ignore[arg-type,return-value]
        done = cold.seed(alice, b"https://arxiv.org/abs/1605.08386v1\n", None, "seed")
    assert [r.how for r in done] == ["fetched"], [r.message for r in done]
    assert store.get_paper("1605.08386") is not None
    assert store.ratings.values_for(alice.id, ["1605.08386"]) == {"1605.08386": 1}
