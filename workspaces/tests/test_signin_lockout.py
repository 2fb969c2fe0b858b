"""Sign-in (/accounts/login/ and /admin/login/) locks a username or an address
out after repeated failures: a 429 page saying to try later, with Retry-After,
that ends by itself after the cool-off; a success resets the count."""

import time
from datetime import timedelta

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from conftest import PASSWORD

LIMIT = 3
DASHBOARD_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
WAIT = 10


@pytest.fixture(autouse=True)
def short_limits(settings):
    # A fast hasher: PBKDF2 takes about a second a sign-in on a loaded machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def sign_in(path, username, password, *, address="192.0.2.10"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def fail(path, username, times, *, address="192.0.2.10"):
    return [sign_in(path, username, "not-the-password", address=address).status_code
            for _ in range(times)]


def assert_locked_out(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert b"Too many sign-in attempts" in response.content
    assert b"try again later" in response.content


def test_the_nth_failed_sign_in_locks_the_dashboard_sign_in_with_a_429_page(owner):
    # when the username fails LIMIT times
    statuses = fail(DASHBOARD_LOGIN, owner.username, LIMIT)
    right_password = sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD)

    # then the failures before the limit got the form again, the last the lockout page,
    # and even the right password waits
    assert statuses == [200] * (LIMIT - 1) + [429]
    assert_locked_out(right_password)


def test_a_success_before_the_limit_resets_the_count(owner):
    # given one failure short of the limit
    fail(DASHBOARD_LOGIN, owner.username, LIMIT - 1)

    # when the user then signs in, and later fails again as often
    success = sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD)
    again = fail(DASHBOARD_LOGIN, owner.username, LIMIT - 1)

    # then nothing is locked
    assert success.status_code == 302
    assert again == [200] * (LIMIT - 1)
    assert sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD).status_code == 302


def test_the_lockout_applies_to_the_admin_sign_in_too(db):
    # given a staff user
    staff = get_user_model().objects.create_user(
        username="stella-staff", password=PASSWORD, is_staff=True, is_superuser=True)

    # when the admin's sign-in fails LIMIT times
    statuses = fail(ADMIN_LOGIN, staff.username, LIMIT)

    # then the admin's sign-in and the dashboard's are locked for that user
    assert statuses == [200] * (LIMIT - 1) + [429]
    assert_locked_out(sign_in(ADMIN_LOGIN, staff.username, PASSWORD))
    assert_locked_out(sign_in(DASHBOARD_LOGIN, staff.username, PASSWORD))


def test_failures_from_one_address_lock_that_address_but_not_another(owner, teammate):
    # when one address fails with a different username each time
    fail(DASHBOARD_LOGIN, "nobody-1", 1, address="198.51.100.1")
    fail(DASHBOARD_LOGIN, "nobody-2", 1, address="198.51.100.1")
    fail(DASHBOARD_LOGIN, "nobody-3", 1, address="198.51.100.1")

    # then that address is locked out, even for a user it never tried; another address is not
    assert_locked_out(sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD, address="198.51.100.1"))
    assert sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD, address="198.51.100.2").status_code == 302


def test_failures_for_one_username_lock_it_from_every_address(owner):
    # when the username fails from a new address each time
    for number in range(LIMIT):
        fail(DASHBOARD_LOGIN, owner.username, 1, address=f"203.0.113.{number + 1}")

    # then it is locked from an address that never failed
    assert_locked_out(sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD, address="203.0.113.99"))


def test_the_lockout_ends_by_itself_after_the_cool_off(owner, settings):
    # given a short cool-off and a locked-out user
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    fail(DASHBOARD_LOGIN, owner.username, LIMIT)
    assert sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD).status_code == 429

    # when the cool-off passes (polled: attempts during the lockout do not extend it)
    deadline = time.monotonic() + WAIT
    while (status := sign_in(DASHBOARD_LOGIN, owner.username, PASSWORD).status_code) == 429:
        assert time.monotonic() < deadline, "the lockout did not end"
        time.sleep(0.1)

    # then the user signs in
    assert status == 302


@pytest.mark.django_db
@pytest.mark.parametrize("path", [DASHBOARD_LOGIN, ADMIN_LOGIN])
def test_without_redis_sign_in_is_a_503_page_not_a_500(settings, monkeypatch, path):
    # given the lockout's Redis is unreachable (a port nothing listens on); axes'
    # handler holds its cache from the start, so it is given the unreachable one
    get_user_model().objects.create_user(username="olivia", password=PASSWORD)
    unreachable = RedisCache("redis://127.0.0.1:1/0", {"KEY_PREFIX": "callboard:signin"})
    monkeypatch.setattr(AxesProxyHandler.get_implementation(), "cache", unreachable)

    # when someone signs in
    response = sign_in(path, "olivia", PASSWORD)

    # then they are told to come back shortly, and nobody is signed in
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert b"Sign-in is unavailable for a moment" in response.content
    assert "_auth_user_id" not in response.client.session
