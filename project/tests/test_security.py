"""HTTPS and the Content-Security-Policy: production settings redirect to HTTPS
(except the probes) and send HSTS; every HTML page carries the policy."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client, override_settings

PRINT_SECURITY = ("import django; django.setup(); from django.conf import settings as s; "
                  "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, bool(s.CONTENT_SECURITY_POLICY))")


def security_settings(**env: str) -> str:
    """SECURE_SSL_REDIRECT, SECURE_HSTS_SECONDS and whether a CSP is set, as a fresh
    process with this environment has them."""
    process_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
                   "SECRET_KEY": "a-long-random-value-for-production"}
    for name in ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "CONTENT_SECURITY_POLICY"):
        process_env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", PRINT_SECURITY], env={**process_env, **env},
                            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


@pytest.mark.e2e
def test_production_redirects_to_https_and_sends_hsts_for_a_year():
    assert security_settings(DEBUG="false") == "True 31536000 True"


@pytest.mark.e2e
def test_development_serves_plain_http_without_hsts():
    assert security_settings(DEBUG="true") == "False 0 True"


@pytest.mark.e2e
def test_each_can_be_turned_off_by_its_setting():
    assert security_settings(DEBUG="false", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0",
                             CONTENT_SECURITY_POLICY="") == "False 0 False"


# The middleware reads these when the handler is built: a fresh Client builds one.
redirecting = override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31_536_000,
                                SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))


@redirecting
@pytest.mark.parametrize("path", ["/dashboard/", "/accounts/login/", "/admin/", "/api/v1/workspace"])
def test_plain_http_is_redirected_to_https(db, path):
    # when
    response = Client().get(path)

    # then
    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{path}"


@redirecting
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_over_plain_http(db, path):
    response = Client().get(path)

    assert response.status_code in (200, 503)  # 503: a dependency is down, not a redirect
    assert "Location" not in response


@redirecting
def test_https_behind_a_trusted_proxy_is_served_with_hsts(db):
    # when the proxy says the client spoke HTTPS
    response = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    # then no redirect, and browsers are told to keep to HTTPS
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/api/v1/docs"])
def test_html_pages_carry_the_content_security_policy(client, path):
    response = client.get(path)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_signed_in_dashboard_carries_the_content_security_policy(owner, signed_in):
    response = signed_in(owner).get("/dashboard/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_json_answers_carry_no_policy(read_key):
    response = read_key.get("/api/v1/workspace")

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
