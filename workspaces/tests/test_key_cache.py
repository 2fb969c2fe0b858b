"""The short-lived cache of verified API keys that requests and stream connects use
(workspaces/key_cache.py): a hit needs the exact secret, entries expire,
revoking in this process forgets at once, and the cache stays bounded."""

import time

import pytest

from project.errors import Forbidden
from workspaces import key_cache, services
from workspaces.auth import active_key, principal_for_key, recently_verified_principal
from workspaces.key_cache import VerifiedKeys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    key_cache.verified_keys.clear()
    yield
    key_cache.verified_keys.clear()


def test_only_the_exact_key_that_was_verified_is_found(read_key):
    cache = VerifiedKeys()
    principal = principal_for_key(read_key.api_key)
    cache.put(read_key.key, principal)

    assert cache.get(read_key.key) is principal
    assert cache.get(read_key.key[:-1] + ("a" if read_key.key[-1] != "a" else "b")) is None
    assert cache.get("") is None


def test_an_entry_expires_after_the_configured_time(settings, read_key):
    settings.API_KEY_CACHE_SECONDS = 0.05
    cache = VerifiedKeys()
    principal = principal_for_key(read_key.api_key)
    cache.put(read_key.key, principal)
    found_at_once = cache.get(read_key.key)

    time.sleep(0.1)

    assert found_at_once is principal
    assert cache.get(read_key.key) is None


def test_zero_seconds_turns_the_cache_off(settings, read_key):
    settings.API_KEY_CACHE_SECONDS = 0
    cache = VerifiedKeys()
    cache.put(read_key.key, principal_for_key(read_key.api_key))

    assert cache.get(read_key.key) is None


def test_the_cache_stays_bounded(monkeypatch, read_key):
    monkeypatch.setattr(key_cache, "MAX_ENTRIES", 10)
    cache = VerifiedKeys()
    principal = principal_for_key(read_key.api_key)
    for number in range(25):
        cache.put(f"{read_key.key}{number}", principal)

    assert len(cache._entries) <= 10
    assert cache.get(f"{read_key.key}24") is principal  # the newest stays


def test_a_full_check_fills_the_cache_and_a_revocation_in_this_process_empties_it(workspace, read_key):
    # given a key verified against the database
    active_key(read_key.key)
    header = f"Bearer {read_key.key}"
    cached = recently_verified_principal(header, None)

    # when it is revoked here
    services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)

    # then
    assert cached is not None and cached.api_key.pk == read_key.api_key.pk
    assert cached.workspace.pk == workspace.pk
    assert recently_verified_principal(header, None) is None


def test_a_cached_key_still_refuses_another_workspace_and_other_schemes(read_key, workspace, other_workspace):
    active_key(read_key.key)

    with pytest.raises(Forbidden):
        recently_verified_principal(f"Bearer {read_key.key}", other_workspace.slug)
    assert recently_verified_principal(f"Bearer {read_key.key}", workspace.slug) is not None
    assert recently_verified_principal(f"Basic {read_key.key}", None) is None
    assert recently_verified_principal(None, None) is None
