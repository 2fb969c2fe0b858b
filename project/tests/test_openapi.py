"""The published API documents: what integrators build against."""

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
