"""Staff see webhooks and their deliveries in the admin, read-only, and never a
secret (docs/operations.md "Admin")."""

import pytest

from webhooks import services

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"


@pytest.fixture
def endpoint_and_secret(workspace):
    return services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")


def test_staff_see_endpoints_without_their_secret(admin_client, workspace, endpoint_and_secret):
    endpoint, secret = endpoint_and_secret
    services.webhook_rotate_secret(workspace=workspace, endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()

    pages = [admin_client.get(ENDPOINTS), admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/"),
             admin_client.get(ENDPOINTS, {"q": str(endpoint.pk)})]

    assert all(page.status_code == 200 for page in pages)
    text = "".join(page.content.decode() for page in pages)
    assert "hooks.example.com/in" in text
    for shown in (secret, endpoint.secret):
        assert shown.removeprefix("whsec_") not in text


def test_staff_see_deliveries_and_change_nothing(admin_client, workspace, endpoint_and_secret):
    endpoint, _ = endpoint_and_secret
    delivery = services.webhook_send_test(workspace=workspace, endpoint_id=endpoint.pk)

    assert "webhook-test" in admin_client.get(DELIVERIES).content.decode()
    assert admin_client.get(f"{DELIVERIES}{delivery.pk}/change/").status_code == 200
    assert admin_client.get(f"{DELIVERIES}add/").status_code == 403
    assert admin_client.post(f"{DELIVERIES}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    changed = admin_client.post(f"{ENDPOINTS}{endpoint.pk}/change/", {"url": "https://evil.example"})
    assert changed.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"
