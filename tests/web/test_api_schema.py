"""schemathesis against the API's own OpenAPI document, with a valid token: no server error and
no response that breaks its documented schema (a few examples per operation, to stay quick)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from forensics.web.app import create_app

#: what the API promises: no server error, and every response as its document says
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
#: generated requests per operation (13 operations: well under a minute in all)
EXAMPLES = 6


def test_api_matches_its_schema(api):  # noqa: ANN001
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    headers = api.headers("admin")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # noqa: ANN001
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then fail once
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 13
    assert not failures, "\n\n".join(failures)


def test_the_document_covers_the_api():
    from forensics.settings import Settings

    doc = create_app(Settings(database_url="sqlite://", secret_key="x")).openapi()
    paths = set(doc["paths"])
    assert {"/api/v1/evidence/{evidence_id}", "/api/v1/uploads", "/api/v1/export", "/api/v1/graph"} <= paths
    assert all(p.startswith("/api/v1/") for p in paths)
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
