"""GET /metrics: Prometheus text, optionally behind a token, summed over processes."""

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

REQUESTS_TOTAL = "callboard_http_requests_total"


def samples(text: str, name: str) -> dict:
    """{(label, value) pairs: sample value} of one metric in Prometheus text."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


TOKEN = "metrics-token-123"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape():
    return Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def requests_counted(method: str, route: str, status: str) -> float:
    response = scrape()
    assert response.status_code == 200
    counted = samples(response.content.decode(), REQUESTS_TOTAL)
    return counted.get((("method", method), ("route", route), ("status", status)), 0.0)


def test_metrics_is_prometheus_text(db):
    # when
    response = scrape()

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    types = {family.name: family.type
             for family in text_string_to_metric_families(response.content.decode())}
    assert types["callboard_http_requests"] == "counter"
    assert types["callboard_http_request_duration_seconds"] == "histogram"


def test_api_requests_are_counted_by_route_and_status(read_key):
    # given the counts before
    ok_before = requests_counted("GET", "api/v1/workspace", "200")
    refused_before = requests_counted("GET", "api/v1/workspace", "401")

    # when two authenticated requests and one without credentials are made
    read_key.get("/api/v1/workspace")
    read_key.get("/api/v1/workspace")
    Client().get("/api/v1/workspace")

    # then
    assert requests_counted("GET", "api/v1/workspace", "200") == ok_before + 2
    assert requests_counted("GET", "api/v1/workspace", "401") == refused_before + 1


def test_request_durations_are_observed_by_route(read_key):
    # given
    read_key.get("/api/v1/workspace")

    # when
    text = scrape().content.decode()

    # then
    counts = samples(text, "callboard_http_request_duration_seconds_count")
    assert counts[(("method", "GET"), ("route", "api/v1/workspace"))] >= 1


def test_unknown_paths_do_not_become_label_values(db):
    # given requests to paths nobody routed
    marker = uuid.uuid4().hex
    Client().get(f"/api/v1/{marker}")
    Client().get(f"/nowhere-{marker}")

    # when
    text = scrape().content.decode()

    # then the label is the URL pattern, never the path
    assert marker not in text
    routes = {dict(labels)["route"] for labels in samples(text, REQUESTS_TOTAL)}
    assert "unmatched" in routes


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Bearer ", "Bearer metrics-token-1234", "Basic metrics-token-123"],
)
def test_metrics_with_a_token_refuses_a_request_without_it(db, authorization):
    # given
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}

    # when
    response = Client().get("/metrics", **headers)

    # then
    assert response.status_code == 401
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "not_authenticated"
    assert REQUESTS_TOTAL.encode() not in response.content


def test_metrics_with_a_token_answers_the_bearer_of_it(db):
    # when
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-123")

    # then
    assert response.status_code == 200
    assert REQUESTS_TOTAL in response.content.decode()


def test_without_a_token_and_debug_off_metrics_are_refused_saying_why(db, settings):
    # given a deployment that set no token
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False

    # when
    response = Client().get("/metrics")

    # then
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "metrics_token_required"
    assert "METRICS_TOKEN" in error["message"]
    assert REQUESTS_TOTAL.encode() not in response.content


def test_without_a_token_metrics_are_open_in_development(db, settings):
    # given make run: DEBUG on, no token
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True

    # when
    response = Client().get("/metrics")

    # then
    assert response.status_code == 200
    assert REQUESTS_TOTAL in response.content.decode()


# Several processes -----------------------------------------------------------

COUNT_IN_A_PROCESS = textwrap.dedent("""
    import sys
    import project.metrics
    for _ in range(int(sys.argv[1])):
        project.metrics.http_requests.labels("GET", "x", "200").inc()
""")

RENDER_ALL_PROCESSES = textwrap.dedent("""
    import sys
    from prometheus_client import generate_latest
    import project.metrics
    sys.stdout.write(generate_latest(project.metrics._registry()).decode())
""")


def run_python(code: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.e2e
def test_metrics_add_up_the_samples_of_every_process(tmp_path):
    # given a multi-process directory shared by separate Python processes
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "test-secret-for-metrics",
    }

    # when one process counts 3 requests and another counts 4
    first = run_python(COUNT_IN_A_PROCESS, "3", env=env)
    second = run_python(COUNT_IN_A_PROCESS, "4", env=env)
    rendered = run_python(RENDER_ALL_PROCESSES, env=env)

    # then a third process reports 7
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert rendered.returncode == 0, rendered.stderr
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    counted = samples(rendered.stdout, REQUESTS_TOTAL)
    assert counted[(("method", "GET"), ("route", "x"), ("status", "200"))] == 7
