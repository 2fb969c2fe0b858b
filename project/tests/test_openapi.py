"""The published API documents: what integrators build against."""

import json
import re

import pytest


def test_openapi_document_is_version_3_1(openapi):
    # then
    assert openapi["openapi"].startswith("3.1")
    assert openapi["info"]["title"] == "Callboard API"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/workspace"),
        ("post", "/api/v1/auth/sse-ticket"),
        ("get", "/api/v1/api-keys"),
        ("post", "/api/v1/api-keys"),
        ("post", "/api/v1/api-keys/{key_id}/revoke"),
    ],
)
def test_every_endpoint_is_documented_with_auth_and_the_error_shape(openapi, method, path):
    # given
    operation = openapi["paths"][path][method]

    # then
    assert operation["security"] == [{"WorkspaceAuth": []}]
    for status in ("401", "403"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}


def test_error_schema_matches_the_shape_every_error_has(openapi):
    # given
    error_out = openapi["components"]["schemas"]["ErrorOut"]
    detail = openapi["components"]["schemas"]["ErrorDetail"]

    # then
    assert error_out["required"] == ["error"]
    assert set(detail["required"]) == {"code", "message", "details"}


def test_browsable_docs_are_served(client):
    # when
    response = client.get("/api/v1/docs")

    # then
    assert response.status_code == 200
    assert b"openapi.json" in response.content


SCHEMA_REF = r'"#/components/schemas/([^"]+)"'


def test_the_document_names_a_server(openapi):
    # then: relative, so the paths resolve against the host that served the document
    assert openapi["servers"] == [{"url": "/", "description": "The deployment that serves this document."}]


def test_every_operation_declares_how_it_authenticates(openapi):
    # given
    schemes = set(openapi["components"]["securitySchemes"])

    # then: the ticket streams (auth=None in ninja: they authenticate themselves) too
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security"), (method, path)
            assert {name for requirement in operation["security"] for name in requirement} <= schemes


@pytest.mark.parametrize(("path", "schemes"), [
    ("/api/v1/events/stream", [{"WorkspaceAuth": []}]),
    ("/api/v1/sse/connect", [{"SseTicket": []}]),
    ("/api/v1/calls/{call_id}/stream", [{"WorkspaceAuth": []}, {"SseTicket": []}]),
])
def test_a_stream_documents_its_200_as_an_event_stream_and_its_credentials(openapi, path, schemes):
    # given
    operation = openapi["paths"][path]["get"]

    # then
    assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
    assert operation["security"] == schemes
    assert openapi["components"]["securitySchemes"]["SseTicket"]["in"] == "query"


def test_every_component_schema_is_referenced_or_published_on_purpose(openapi):
    # given every reference outside the schemas, then those the schemas make
    text = json.dumps({key: value for key, value in openapi.items() if key != "components"})
    schemas = openapi["components"]["schemas"]
    roots = set(re.findall(SCHEMA_REF, text)) | {"Event", "ControlEvent"}

    # then ninja's Query[...] models (written out inline as parameters) are gone
    assert "PageParams" not in schemas and "StreamParams" not in schemas
    assert set(schemas) <= _referenced_by(schemas, roots)


def _referenced_by(schemas: dict, names: set) -> set:
    """Names reachable from `names` through the schemas, transitively."""
    reached, pending = set(names), list(names)
    while pending:
        for found in re.findall(SCHEMA_REF, json.dumps(schemas.get(pending.pop(), {}))):
            if found not in reached:
                reached.add(found)
                pending.append(found)
    return reached
