"""Property-based fuzzing of the whole JSON API, from its own ``/openapi.json``, with schemathesis.

Every operation the schema lists is called with schemathesis' three phases: the schema's
examples, its coverage phase (boundary values: each minimum and maximum and one past it, empty
and over-long strings, missing and wrong-typed parameters) and ``FUZZ_EXAMPLES`` random cases,
valid and invalid. It runs as an anonymous visitor, as a script with a bearer API token of an
admin (every scope), and, for the push route, with the ingest token. Each answer must pass
``CHECKS``: no 5xx, a status code the schema declares, the declared content type, and a body
that validates against the declared response schema (400s and 401s included: ``ApiError``).

The runs are reproducible: schemathesis' deterministic mode derandomizes Hypothesis, and no
example database is kept. schemathesis' pytest plugin (``from_fixture``) does not run under
pytest 9, so each operation's Hypothesis test is built with schemathesis' own builder and
called here; every failing operation is reported at once, with the request to reproduce it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI, Query
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from arxiv_replay import ArxivReplay
from community import make_user
from conftest import NewDatabaseUrl
from demo import demo_record, rows_between
from paperboy.settings import Settings
from paperboy.store import open_store
from paperboy.web.app import create_app

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("PAPERBOY_FUZZ_EXAMPLES", "15"))
"""Random cases per operation and identity (the coverage phase adds its boundary values)."""

CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
INGEST_TOKEN = "fuzz-ingest-token"
ATOM = Path(__file__).parent / "data" / "arxiv-fixtures" / "atom_api"


@dataclass
class FuzzReport:
    """What one run tried and what failed, per operation label (``GET /api/...``)."""

    examples: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.examples.values())

    def describe(self) -> str:
        lines = [f"{len(self.failures)} of {len(self.examples)} operations failed:"]
        for label, failure in self.failures.items():
            lines.append(f"== {label}\n{failure[:3000]}")
        return "\n".join(lines)


def _checker(report: FuzzReport, label: str, headers: dict[str, str]) -> Callable[[Any], None]:
    """The test body of one operation: send the case, count it, run ``CHECKS`` on the answer."""

    def check(case: Any) -> None:
        report.examples[label] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return check


def fuzz(
    schema: Any,
    headers: dict[str, str],
    *,
    only: Callable[[str], bool] = lambda label: True,
) -> FuzzReport:
    """Run every operation of ``schema`` (those ``only`` keeps) through schemathesis' phases
    with ``headers`` on each request; collect what was tried and every failure."""
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if not only(label):
            continue
        report.examples[label] = 0
        test = build_operation_test(
            config=schema.config,
            operation=operation,
            test_func=_checker(report, label, headers),
            given_kwargs={},
            feedback=FeedbackSources(),
        )
        try:
            test()
        except Unsatisfiable:  # no parameters to make invalid: the other phases still ran
            pass
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup holds every failure
            report.failures[label] = str(exc)
    return report


def load_schema(app: FastAPI) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
            }
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@dataclass
class Target:
    app: FastAPI
    schema: Any
    token: str


@pytest.fixture(scope="module")
def target(module_database_url: NewDatabaseUrl) -> Iterator[Target]:
    """A store with a week of demo papers, an admin with an API token of every scope, arXiv
    answered by the replay server (an unknown id is 'no such paper'), pushing switched on."""
    with ArxivReplay(ATOM if ATOM.exists() else None) as replay:
        settings = Settings(
            database_url=module_database_url("fuzzapi"),
            arxiv_api_url=f"{replay.url}/api/query",
            arxiv_min_interval=0.0,
            arxiv_retries=0,
            arxiv_timeout=5.0,
            ingest_token=SecretStr(INGEST_TOKEN),
        )
        store = open_store(settings.database_url)
        try:
            store.upsert([demo_record(row) for row in rows_between("2025-03-03", "2025-03-09")])
            admin = make_user(store, "fuzzer", admin=True)
            _, token = store.accounts.create_api_token(admin.id, "fuzz", ("read", "write", "admin"))
            app = create_app(settings, store=store)
            yield Target(app, load_schema(app), token)
        finally:
            store.close()


def _summary(name: str, report: FuzzReport) -> None:
    print(f"\n[fuzz-api] {name}: {len(report.examples)} operations, {report.total} examples")


def test_every_api_operation_holds_for_anonymous_visitors(target: Target) -> None:
    report = fuzz(target.schema, {})
    _summary("anonymous", report)
    assert not report.failures, report.describe()
    assert all(count > 0 for count in report.examples.values()), report.examples


def test_every_api_operation_holds_with_a_bearer_token_of_every_scope(target: Target) -> None:
    report = fuzz(target.schema, {"Authorization": f"Bearer {target.token}"})
    _summary("bearer API token", report)
    assert not report.failures, report.describe()
    assert all(count > 0 for count in report.examples.values()), report.examples


def test_every_api_operation_answers_a_declared_401_to_a_revoked_token(
    target: Target,
) -> None:
    report = fuzz(target.schema, {"Authorization": "Bearer pb_revoked-or-never-made"})
    _summary("invalid bearer token", report)
    assert not report.failures, report.describe()


def test_the_push_route_holds_with_the_ingest_token(target: Target) -> None:
    report = fuzz(
        target.schema,
        {"Authorization": f"Bearer {INGEST_TOKEN}"},
        only=lambda label: label == "POST /api/papers/import",
    )
    _summary("ingest token", report)
    assert not report.failures, report.describe()
    assert report.examples["POST /api/papers/import"] > 0


def test_the_schema_lists_every_json_route(target: Target) -> None:
    """A route left out of the schema would be left out of the fuzzing too."""
    listed = {op.ok().label for op in target.schema.get_all_operations() if hasattr(op, "ok")}
    for wanted in (
        "GET /api/daily_papers",
        "GET /api/papers/search",
        "GET /api/papers/trending",
        "GET /api/papers/{arxiv_id}",
        "GET /api/papers/{arxiv_id}/similar",
        "POST /api/papers/submit",
        "POST /api/papers/import",
        "POST /api/papers/{arxiv_id}/upvote",
        "GET /api/papers/{arxiv_id}/comments",
        "POST /api/papers/{arxiv_id}/comments",
    ):
        assert wanted in listed


def test_the_harness_reports_a_server_error_and_an_undeclared_answer() -> None:
    """The fuzzing above can fail: on an app that breaks past a bound, it says where."""
    app = FastAPI()

    @app.get("/api/fragile")
    def fragile(n: int = Query(0, ge=0, le=1000)) -> dict[str, int]:
        if n > 500:
            raise RuntimeError("past the bound")
        return {"n": n}

    @app.get("/api/liar", response_model=dict[str, int])
    def liar(n: int = Query(0, ge=0, le=10)) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"n": "not a number"})

    report = fuzz(load_schema(app), {})
    assert set(report.failures) == {"GET /api/fragile", "GET /api/liar"}
    # A 500 answer is "Server error"; the test client re-raises the app's exception itself.
    assert any(
        text in report.failures["GET /api/fragile"] for text in ("Server error", "past the bound")
    )
    assert "violates schema" in report.failures["GET /api/liar"]
