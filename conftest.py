"""Personas and clients shared by every app's tests.

Workspace "acme" has an owner, an admin (`workspace_admin`: not Django staff, and
named so as not to shadow pytest-django's `admin_user`), a teammate (member) and a viewer;
workspace "globex" has the outsider. Keys exist for each scope of acme.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from project.testing import forget_rate_limits
from workspaces import services
from workspaces.models import Role

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def plain_http_test_client():
    """The test client speaks plain HTTP, and DEBUG is off in tests: without this every
    request would be redirected to HTTPS. project/tests/test_security.py turns the
    redirect back on to test it."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


# Both start with credit, as a paying customer does: a workspace at zero places no calls.
OPENING_CREDIT = Decimal("100.00")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no failed attempts counted and full buckets."""
    forget_rate_limits()


@pytest.fixture
def workspace(db):
    return services.workspace_create(name="Acme", slug="acme", opening_credit=OPENING_CREDIT)


@pytest.fixture
def other_workspace(db):
    return services.workspace_create(name="Globex", slug="globex", opening_credit=OPENING_CREDIT)


def _member(workspace, username, role):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    services.membership_add(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def owner(workspace):
    return _member(workspace, "olivia-owner", Role.OWNER)


@pytest.fixture
def workspace_admin(workspace):
    return _member(workspace, "adam-admin", Role.ADMIN)


@pytest.fixture
def teammate(workspace):
    return _member(workspace, "tom-teammate", Role.MEMBER)


@pytest.fixture
def viewer(workspace):
    return _member(workspace, "vera-viewer", Role.VIEWER)


@pytest.fixture
def outsider(other_workspace):
    return _member(other_workspace, "oscar-outsider", Role.OWNER)


@dataclass
class KeyedClient:
    """A test client that sends one API key on every request."""

    key: str
    api_key: object
    client: Client

    def _headers(self, headers):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}", **(headers or {})}

    def get(self, path, data=None, headers=None, **extra):
        return self.client.get(path, data, **self._headers(headers), **extra)

    def post(self, path, data=None, headers=None, **extra):
        return self.client.post(path, data, content_type="application/json",
                                **self._headers(headers), **extra)

    def patch(self, path, data=None, headers=None, **extra):
        return self.client.patch(path, data, content_type="application/json",
                                 **self._headers(headers), **extra)


def _key_client(workspace, *scopes):
    issued = services.api_key_create(workspace=workspace, name="+".join(scopes), scopes=list(scopes))
    return KeyedClient(key=issued.plaintext, api_key=issued.api_key, client=Client())


@pytest.fixture
def read_key(workspace):
    return _key_client(workspace, "read")


@pytest.fixture
def write_key(workspace):
    return _key_client(workspace, "write")


@pytest.fixture
def admin_key(workspace):
    return _key_client(workspace, "admin")


@pytest.fixture
def runtime_key(workspace):
    return _key_client(workspace, "runtime")


@pytest.fixture
def outsider_key(other_workspace):
    return _key_client(other_workspace, "read", "write", "admin")


@pytest.fixture
def signed_in():
    """signed_in(user) → a client with that user's session; CSRF enforced like a browser."""

    def make(user, *, enforce_csrf=True):
        client = Client(enforce_csrf_checks=enforce_csrf)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def openapi(client):
    """The published OpenAPI document, as a client fetches it."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()
