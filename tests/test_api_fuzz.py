"""Schemathesis fuzzes the API against its own OpenAPI description: every generated request
(valid and invalid parameters, with and without the token) must get an answer the description
lists, with a body matching its schema, and never a server error. Bounded: a few dozen
examples per operation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from api_support import make_token, publish_campaign  # noqa: E402

from api.app import create_app  # noqa: E402
from review.models import ApiScope  # noqa: E402


@pytest.fixture
def published_api(world, sign_all, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_WEBHOOK_SEND_AFTER_COMMIT", "0")
    publish_campaign(world, sign_all, tmp_path / "exports")
    token = make_token(world, *ApiScope.ALL)
    return create_app(world.engine), token


def test_api_conforms_to_its_openapi_description(published_api) -> None:  # type: ignore[no-untyped-def]
    """Every operation, with schema-valid and with schema-violating requests, with the token
    (schemathesis also tries each one without it: the `ignored_auth` check). Schemathesis's
    pytest plugin (`from_fixture`) does not run on pytest 9, so the schema's Hypothesis strategy
    is driven directly: the same checks, bounded the same way, over one published world."""
    app, token = published_api
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        seen = fuzz(schema, mode, token)
        assert len(seen) >= 4, (mode, seen)  # the strategy reached (nearly) every operation


def fuzz(schema, mode, token: str) -> set[str]:  # type: ignore[no-untyped-def]
    """Run schemathesis's checks on up to 40 generated requests; the operations reached."""
    seen: set[str] = set()

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        seen.add(case.operation.label)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"})

    check()
    return seen


def test_the_description_lists_every_route_with_a_typed_answer(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    spec = TestClient(create_app(sqlite_engine)).get("/v1/openapi.json").json()
    assert set(spec["paths"]) == {
        "/v1/health",
        "/v1/campaigns",
        "/v1/campaigns/{campaign_id}",
        "/v1/campaigns/{campaign_id}/messages",
        "/v1/campaigns/{campaign_id}/recalls",
    }
    for path, ops in spec["paths"].items():
        answer = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in answer, path  # a named response model, not "any JSON"
        if path != "/v1/health":
            assert {"401", "403", "422"} <= set(ops["get"]["responses"]), path
            assert ops["get"]["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
            assert ops["get"].get("security") == [{"apiToken": []}], path
    assert spec["components"]["securitySchemes"]["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["apiToken"]["description"],
    }
