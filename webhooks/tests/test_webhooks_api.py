"""The webhooks REST API (docs/reference/rest.md#webhooks): endpoints created with a
secret shown once, read, changed, deleted, their secret rotated; every endpoint
tenant-scoped and admin-only; bad inputs refused with nothing changed."""

import pytest
from standardwebhooks import Webhook

from project.testing import emitted
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/callboard"


def _create(client, **body):
    return client.post("/api/v1/webhooks", {"url": URL, **body})


def test_create_answers_201_with_the_secret_once(admin_key):
    # when
    response = _create(admin_key, event_types=["call-ended", "call-created"], description="CRM")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == URL and body["enabled"] is True and body["description"] == "CRM"
    assert body["event_types"] == ["call-created", "call-ended"]
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # a secret the receivers' library takes
    # and it is never shown again
    assert "secret" not in admin_key.get(f"/api/v1/webhooks/{body['id']}").json()
    assert all("secret" not in item for item in admin_key.get("/api/v1/webhooks").json()["results"])


def test_event_types_default_to_all(admin_key):
    body = _create(admin_key).json()

    assert body["event_types"] == "all"
    assert WebhookEndpoint.objects.get(pk=body["id"]).event_types is None


def test_list_and_detail(admin_key):
    first, second = _create(admin_key).json(), _create(admin_key, description="two").json()

    listed = admin_key.get("/api/v1/webhooks").json()

    assert listed["total_count"] == 2
    assert [item["id"] for item in listed["results"]] == [second["id"], first["id"]]
    detail = admin_key.get(f"/api/v1/webhooks/{first['id']}")
    assert detail.status_code == 200 and detail.json()["id"] == first["id"]


def test_patch_changes_only_what_is_sent(admin_key):
    webhook = _create(admin_key, description="before").json()

    response = admin_key.patch(f"/api/v1/webhooks/{webhook['id']}", {"event_types": ["balance-updated"]})

    assert response.status_code == 200, response.content
    assert response.json()["event_types"] == ["balance-updated"]
    assert response.json()["description"] == "before" and response.json()["url"] == URL


def test_disabling_and_enabling_emit_webhook_status_changed(admin_key, workspace):
    webhook = _create(admin_key).json()

    disabled = admin_key.patch(f"/api/v1/webhooks/{webhook['id']}", {"enabled": False}).json()
    enabled = admin_key.patch(f"/api/v1/webhooks/{webhook['id']}", {"enabled": True}).json()

    assert disabled["enabled"] is False and disabled["disabled_reason"] == "manual"
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    assert emitted(workspace, "webhook-status-changed") == [
        {"webhook_id": webhook["id"], "enabled": False, "previous_enabled": True, "reason": "manual"},
        {"webhook_id": webhook["id"], "enabled": True, "previous_enabled": False, "reason": "manual"},
    ]


def test_delete(admin_key):
    webhook = _create(admin_key).json()

    response = admin_key.client.delete(f"/api/v1/webhooks/{webhook['id']}",
                                       HTTP_AUTHORIZATION=f"Bearer {admin_key.key}")

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_rotate_shows_a_new_secret_once_and_keeps_the_old_one_for_24_hours(admin_key):
    webhook = _create(admin_key).json()

    response = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret")

    assert response.status_code == 200
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != webhook["secret"]
    assert body["previous_secret_expires_at"] is not None
    endpoint = WebhookEndpoint.objects.get(pk=webhook["id"])
    assert (endpoint.secret, endpoint.previous_secret) == (body["secret"], webhook["secret"])
    hours = (endpoint.previous_secret_expires_at - endpoint.updated_at).total_seconds() / 3600
    assert 23.99 < hours <= 24.01
    assert "secret" not in admin_key.get(f"/api/v1/webhooks/{webhook['id']}").json()


# --- who may ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["read_key", "write_key"])
def test_only_admins_manage_webhooks(request, persona):
    client = request.getfixturevalue(persona)

    assert client.get("/api/v1/webhooks").status_code == 403
    assert _create(client).status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_a_member_is_refused_and_an_admin_member_is_not(signed_in, teammate, workspace_admin):
    body = {"url": URL}

    as_member = signed_in(teammate, enforce_csrf=False)
    as_admin = signed_in(workspace_admin, enforce_csrf=False)

    refused = as_member.post("/api/v1/webhooks", body, content_type="application/json")
    allowed = as_admin.post("/api/v1/webhooks", body, content_type="application/json")

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_role"
    assert allowed.status_code == 201


def test_every_endpoint_of_another_workspace_is_404(admin_key, outsider_key):
    # given a webhook of acme with a delivery
    webhook = _create(admin_key).json()
    delivery = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/test").json()
    base = f"/api/v1/webhooks/{webhook['id']}"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {outsider_key.key}"}

    # when globex's admin tries every endpoint on it
    answers = [
        outsider_key.get(base),
        outsider_key.patch(base, {"description": "mine"}),
        outsider_key.client.delete(base, **auth),
        outsider_key.post(f"{base}/rotate-secret"),
        outsider_key.post(f"{base}/test"),
        outsider_key.get(f"{base}/deliveries"),
        outsider_key.post(f"{base}/deliveries/{delivery['id']}/retry"),
    ]

    # then each is a 404 and nothing changed
    assert [answer.status_code for answer in answers] == [404] * 7
    assert {answer.json()["error"]["code"] for answer in answers} == {"not_found"}
    assert outsider_key.get("/api/v1/webhooks").json()["total_count"] == 0
    endpoint = WebhookEndpoint.objects.get(pk=webhook["id"])
    assert endpoint.description == "" and endpoint.secret == webhook["secret"]
    assert endpoint.deliveries.count() == 1


def test_a_delivery_of_another_webhook_is_404(admin_key):
    first, second = _create(admin_key).json(), _create(admin_key).json()
    delivery = admin_key.post(f"/api/v1/webhooks/{first['id']}/test").json()

    response = admin_key.post(f"/api/v1/webhooks/{second['id']}/deliveries/{delivery['id']}/retry")

    assert response.status_code == 404


# --- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "ftp://hooks.example.com/x"}, "invalid_webhook_url"),
    ({"url": "https://"}, "invalid_webhook_url"),
    ({"url": "not a url"}, "invalid_webhook_url"),
    ({"url": "https://user:pw@hooks.example.com/"}, "invalid_webhook_url"),
    ({"url": "https://hooks.example.com:99999/"}, "invalid_webhook_url"),
    ({"url": "https://x.example.com/" + "a" * 2000}, "validation_error"),
    ({"event_types": ["call-ended", "call-exploded"]}, "unknown_event_type"),
    ({"event_types": ["call-transcript"]}, "unknown_event_type"),  # call speech is not sent
    ({"event_types": []}, "invalid_event_types"),
    ({"event_types": "some"}, "validation_error"),
    ({"event_types": ["call-ended"] * 101}, "validation_error"),
    ({"description": "d" * 501}, "validation_error"),
    ({"secret": "whsec_mine"}, "validation_error"),
])
def test_bad_input_is_a_400_and_creates_nothing(admin_key, body, code):
    response = admin_key.post("/api/v1/webhooks", {"url": URL, **body})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not WebhookEndpoint.objects.exists()


def test_unknown_event_type_names_the_valid_ones(admin_key):
    details = _create(admin_key, event_types=["call-exploded"]).json()["error"]["details"]

    assert details["unknown"] == ["call-exploded"]
    assert "call-ended" in details["valid"] and "webhook-status-changed" in details["valid"]
    assert "call-transcript" not in details["valid"]


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/", "https://127.0.0.1/", "https://10.1.2.3/", "https://169.254.169.254/latest",
    "https://[::1]/", "https://localhost/", "https://api.localhost/", "https://192.168.0.10:8443/",
])
def test_plain_http_and_private_addresses_are_refused_unless_the_deployment_allows_them(
        admin_key, private_urls_refused, url):
    response = _create(admin_key, url=url)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook_url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", [
    # the other spellings of loopback, unspecified and private addresses that resolvers accept
    "https://2130706433/", "https://0x7f000001/", "https://017700000001/", "https://127.1/",
    "https://0x7f.0.0.1/", "https://127.0.0.1./", "https://0.0.0.0/", "https://0/", "https://[::]/",
    "https://[::ffff:7f00:1]/", "https://[::ffff:169.254.169.254]/", "https://167772161/",
    "https://LOCALHOST./", "https://[fe80::1%25eth0]/",
])
def test_every_spelling_of_a_private_address_is_refused(admin_key, private_urls_refused, url):
    response = _create(admin_key, url=url)

    assert response.status_code == 400, url
    assert response.json()["error"]["code"] == "invalid_webhook_url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", [
    "https://exa\tmple.com/hook", "https://example.com/\x7f", "https://example.com/\x1fhook",
    "https://\N{SNOWMAN}\N{ZERO WIDTH JOINER}.com/", "https://a\N{SOFT HYPHEN}b.com/",
])
def test_a_url_the_sender_could_not_send_to_is_refused(admin_key, url):
    # (accepted, each would fail every attempt with an internal error: the sender's HTTP client refuses it)
    response = _create(admin_key, url=url)

    assert response.status_code == 400, url
    assert response.json()["error"]["code"] == "invalid_webhook_url"
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_to_a_loopback_receiver_is_allowed_where_the_deployment_allows_it(admin_key):
    assert _create(admin_key, url="http://127.0.0.1:8080/hook").status_code == 201


def test_null_fields_of_a_patch_change_nothing(admin_key):
    webhook = _create(admin_key, description="keep").json()

    nulls = {"url": None, "enabled": None, "description": None, "event_types": None}
    response = admin_key.patch(f"/api/v1/webhooks/{webhook['id']}", nulls)

    assert response.status_code == 200
    assert response.json()["url"] == URL and response.json()["description"] == "keep"


def test_a_bad_patch_changes_nothing(admin_key, workspace):
    webhook = _create(admin_key, description="keep").json()
    base = f"/api/v1/webhooks/{webhook['id']}"

    answers = [admin_key.patch(base, {"url": "ftp://x"}), admin_key.patch(base, {"event_types": ["nope"]}),
               admin_key.patch(base, {"description": "d" * 501}), admin_key.patch(base, {"enabled": "maybe"}),
               admin_key.patch(base, {"secret": "whsec_x"})]

    assert [answer.status_code for answer in answers] == [400] * 5
    assert admin_key.get(base).json() == {key: value for key, value in webhook.items() if key != "secret"}
    assert emitted(workspace, "webhook-status-changed") == []


def test_at_most_the_configured_number_of_webhooks(admin_key, settings):
    settings.WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE = 2
    _create(admin_key), _create(admin_key)

    response = _create(admin_key)

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("too_many_webhooks", {"limit": 2})
    assert WebhookEndpoint.objects.count() == 2


def test_unknown_ids_are_404(admin_key):
    for path in ["/api/v1/webhooks/not-a-uuid", "/api/v1/webhooks/00000000-0000-0000-0000-000000000000"]:
        response = admin_key.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
