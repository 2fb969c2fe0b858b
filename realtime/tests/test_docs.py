"""The event schemas as integrators read them: the OpenAPI union, the AsyncAPI document,
and the committed copies in docs/api/ that reviewers see change."""

import difflib
import json

import pytest
from django.conf import settings

from realtime import catalogue
from realtime.management.commands.export_api_docs import rendered_documents

CONTROL_TYPES = {"connected", "keep-alive", "lag-warning", "stream-reset", "shutdown", "stream-closed"}
# docs/reference/events.md#call-events: the per-call stream types, plus the call's own lifecycle events.
CALL_STREAM_TYPES = {
    "call-transcript", "call-interim", "call-tts", "call-tts-word", "call-speech", "call-turn",
    "call-node-transition", "call-dtmf", "call-tool", "call-recording", "call-metrics", "call-error",
}
CALL_LIFECYCLE_TYPES = {"call-status", "call-ended", "call-escalated"}
NOT_ABOUT_ONE_CALL = {"balance-updated", "payment-required", "notification", "campaign-progress",
                      "call-created", "data-export-status", "schedule-executed"}


def resolve(document: dict, ref: str):
    """Follows a local JSON pointer such as `#/components/schemas/Event`; KeyError if it dangles."""
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


@pytest.fixture
def asyncapi(client):
    # no credentials: the document is public
    response = client.get("/api/v1/asyncapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_publishes_every_emitted_event_as_one_union_discriminated_by_type(openapi):
    # given
    event = openapi["components"]["schemas"]["Event"]

    # then
    assert len(event["oneOf"]) == 26
    assert all(set(option) == {"$ref"} for option in event["oneOf"])
    assert event["discriminator"]["propertyName"] == "type"
    mapping = event["discriminator"]["mapping"]
    assert set(mapping) == set(catalogue.names())
    assert sorted(mapping.values()) == sorted(option["$ref"] for option in event["oneOf"])


@pytest.mark.parametrize(("union", "expected_types"), [
    ("Event", set(catalogue.names())),
    ("ControlEvent", CONTROL_TYPES),
])
def test_each_union_member_is_the_envelope_of_the_type_it_is_mapped_from(openapi, union, expected_types):
    # given
    mapping = openapi["components"]["schemas"][union]["discriminator"]["mapping"]

    # then
    assert set(mapping) == expected_types
    for type_name, ref in mapping.items():
        member = resolve(openapi, ref)
        assert member["properties"]["type"]["const"] == type_name
        assert set(member["required"]) == {"event_id", "type", "workspace_id", "timestamp", "data"}
        assert "call_id" in member["properties"]
        assert member["additionalProperties"] is False


def test_openapi_control_events_are_a_union_of_their_own(openapi):
    # given
    control = openapi["components"]["schemas"]["ControlEvent"]

    # then
    assert control["discriminator"]["propertyName"] == "type"
    assert len(control["oneOf"]) == len(CONTROL_TYPES)
    assert set(control["discriminator"]["mapping"]).isdisjoint(catalogue.names())


def test_a_payload_schema_refuses_fields_it_does_not_declare(openapi):
    # given
    balance = resolve(openapi, openapi["components"]["schemas"]["Event"]["discriminator"]["mapping"]
                      ["balance-updated"])
    data = resolve(openapi, balance["properties"]["data"]["$ref"])

    # then
    assert data["additionalProperties"] is False
    assert set(data["properties"]) == {"balance", "currency", "delta", "reason", "call_id"}


@pytest.mark.parametrize("document_name", ["openapi", "asyncapi"])
def test_every_reference_in_a_document_resolves(request, document_name):
    # given
    document = request.getfixturevalue(document_name)

    # then
    dangling = []
    for ref in set(all_refs(document)):
        try:
            resolve(document, ref)
        except KeyError:
            dangling.append(ref)
    assert dangling == []


def test_asyncapi_is_version_3_and_describes_every_type_including_control(asyncapi):
    # then
    assert asyncapi["asyncapi"] == "3.0.0"
    messages = asyncapi["components"]["messages"]
    assert set(messages) == set(catalogue.names()) | CONTROL_TYPES
    for name, message in messages.items():
        payload = resolve(asyncapi, message["payload"]["$ref"])
        assert payload["properties"]["type"]["const"] == name


@pytest.mark.parametrize(("name", "persisted"), [
    ("call-transcript", True), ("call-interim", False), ("call-tts-word", False),
    ("balance-updated", True), ("keep-alive", False),
])
def test_asyncapi_tells_which_events_can_be_replayed(asyncapi, name, persisted):
    # then
    assert asyncapi["components"]["messages"][name]["x-persisted"] is persisted


def test_every_channel_message_points_at_a_documented_message(asyncapi):
    # then
    for channel_name, channel in asyncapi["channels"].items():
        assert channel["messages"], f"{channel_name} carries nothing"
        for name, ref in channel["messages"].items():
            assert resolve(asyncapi, ref["$ref"]) is asyncapi["components"]["messages"][name]


def test_every_receive_operation_points_at_its_channel_and_its_messages(asyncapi):
    # then
    for channel_name, channel in asyncapi["channels"].items():
        operation = asyncapi["operations"][f"receive_{channel_name}"]
        assert operation["action"] == "receive"
        assert resolve(asyncapi, operation["channel"]["$ref"]) is channel
        # AsyncAPI 3: an operation names messages of its own channel
        assert all(ref["$ref"].startswith(f"#/channels/{channel_name}/messages/")
                   for ref in operation["messages"])
        carried = [resolve(asyncapi, ref["$ref"]) for ref in operation["messages"]]
        assert carried == list(channel["messages"].values())


@pytest.mark.parametrize(("address", "carries"), [
    ("/api/v1/calls/{call_id}/stream", CALL_STREAM_TYPES | CALL_LIFECYCLE_TYPES | CONTROL_TYPES),
    ("/api/v1/calls/{call_id}/observe", CALL_STREAM_TYPES | CALL_LIFECYCLE_TYPES | CONTROL_TYPES),
    ("/api/v1/events/stream", set(catalogue.names()) | CONTROL_TYPES),
    ("/api/v1/sse/connect", set(catalogue.names()) | CONTROL_TYPES),
])
def test_each_stream_documents_exactly_the_events_it_carries(asyncapi, address, carries):
    # given
    channels = [c for c in asyncapi["channels"].values() if c["address"] == address]

    # then
    assert len(channels) == 1, f"one channel for {address}"
    assert set(channels[0]["messages"]) == carries


@pytest.mark.parametrize("address", ["/api/v1/calls/{call_id}/stream", "/api/v1/calls/{call_id}/observe"])
@pytest.mark.parametrize("name", sorted(NOT_ABOUT_ONE_CALL))
def test_a_call_stream_does_not_carry_workspace_only_events(asyncapi, address, name):
    # given
    channel = next(c for c in asyncapi["channels"].values() if c["address"] == address)

    # then
    assert name not in channel["messages"]


@pytest.mark.parametrize(("document_name", "file_name"), [
    ("openapi", "openapi.json"), ("asyncapi", "asyncapi.json"),
])
def test_the_document_clients_download_is_the_one_exported(request, document_name, file_name):
    # given
    served = request.getfixturevalue(document_name)

    # then
    assert served == json.loads(rendered_documents()[file_name])


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
def test_committed_api_documents_match_the_code(name):
    # given
    committed_path = settings.BASE_DIR / "docs" / "api" / name
    committed = committed_path.read_text() if committed_path.exists() else ""

    # when
    rendered = rendered_documents()[name]

    # then
    if rendered != committed:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(keepends=True), rendered.splitlines(keepends=True),
            fromfile=f"docs/api/{name} (committed)", tofile=f"docs/api/{name} (from the code)",
        ))[:60])
        pytest.fail(
            f"docs/api/{name} is out of date with the code. Run `python manage.py export_api_docs` "
            f"and commit the result.\n{diff}",
            pytrace=False,
        )


def test_every_asyncapi_operation_says_which_credentials_open_it(asyncapi):
    # given
    schemes = asyncapi["components"]["securitySchemes"]

    # then
    for name, operation in asyncapi["operations"].items():
        refs = [entry["$ref"].rsplit("/", 1)[-1] for entry in operation["security"]]
        assert refs and set(refs) <= set(schemes), name
    assert [entry["$ref"] for entry in asyncapi["operations"]["receive_ticketStream"]["security"]] == [
        "#/components/securitySchemes/ticket"]
