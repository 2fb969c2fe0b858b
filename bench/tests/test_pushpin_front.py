"""The pure parts of the ours-pushpin variant and the pushpin_failover scenario
(bench/run.py, issue #21): registration, the contract's lines judged on
ours-pushpin, where the idle streams' memory went, and the latest.json cases."""

import contextlib
import socket
from argparse import Namespace

from bench.run import (
    ALL_SCENARIOS,
    CONTRACT,
    DEFAULT_VARIANTS,
    SCENARIOS,
    VARIANT_COLUMNS,
    contract_lines,
    held_memory,
    latest_document,
    main,
    port_refuses,
    requests_logged,
)


def test_pushpin_failover_is_registered_for_ours_pushpin_and_runs_only_when_named():
    assert SCENARIOS["pushpin_failover"].__name__ == "scenario_pushpin_failover"
    assert DEFAULT_VARIANTS["pushpin_failover"] == ["ours-pushpin"]
    # Not in the default run: it measures nothing but ours-pushpin, which is not a default engine.
    assert "pushpin_failover" not in ALL_SCENARIOS


def test_ours_pushpin_runs_beside_ours_in_the_issue_scenarios():
    for scenario in ("idle", "fanout", "many", "storm"):
        assert DEFAULT_VARIANTS[scenario][:2] == ["ours", "ours-pushpin"]
    assert "ours-pushpin" in VARIANT_COLUMNS


def test_the_default_engines_leave_ours_pushpin_out(monkeypatch):
    # given main's parser, stopped right after it parsed the arguments
    seen = {}

    def stop_at_setup(args, stamp):
        seen["engines"] = args.engines
        raise SystemExit(0)

    monkeypatch.setattr("bench.run.Setup", stop_at_setup)
    with contextlib.suppress(SystemExit):
        main([])
    assert "ours-pushpin" not in seen["engines"].split(",")
    assert "ours" in seen["engines"].split(",")


ARGS = Namespace(streams=20_000, many_subscribers=5_000, many_rate=4, storm=10_000, failover_streams=1_000,
                 failover_rate=10, failover_duration=30, subscribers=1_000, rate=55)


def test_pushpin_lines_are_judged_on_ours_pushpin_and_listed_only_when_it_ran():
    medians = {"ours": {"p99_ms": 120.0}, "ours-pushpin": {"p99_ms": 180.0}}
    lines = contract_lines("many", medians, ARGS)
    by_variant = {line["variant"]: line for line in lines}
    assert by_variant["ours"]["met"] is True and by_variant["ours"]["ours"] == 120.0
    assert by_variant["ours-pushpin"]["value"] == 180.0
    assert by_variant["ours-pushpin"]["met"] is False  # the issue's 150 ms through Pushpin
    assert "ours" not in by_variant["ours-pushpin"]  # the old key holds ours' values only
    # without ours-pushpin in the run, its lines are not listed at all
    assert {line["variant"] for line in contract_lines("many", {"ours": {"p99_ms": 120.0}}, ARGS)} == {"ours"}


def test_storm_through_pushpin_needs_all_back_caught_up_no_duplicate_no_loss():
    complete = {"reconnected": 10_000, "streams_caught_up": 10_000, "duplicates": 0, "missing": 0}
    lines = [line for line in contract_lines("storm", {"ours-pushpin": complete}, ARGS)
             if line["variant"] == "ours-pushpin"]
    assert {line["metric"] for line in lines} == {"reconnected", "streams_caught_up", "duplicates", "missing"}
    assert all(line["met"] for line in lines)
    short = {**complete, "streams_caught_up": 9_999}
    judged = {line["metric"]: line["met"] for line in contract_lines("storm", {"ours-pushpin": short}, ARGS)
              if line["variant"] == "ours-pushpin"}
    assert judged["streams_caught_up"] is False


def test_failover_lines_and_a_run_that_errored():
    metrics = {metric for scenario, metric, *_ in CONTRACT if scenario == "pushpin_failover"}
    assert metrics == {"streams_lost", "missing", "duplicates", "order_violations"}
    lines = contract_lines("pushpin_failover", {"ours-pushpin": {"error": "RuntimeError: boom"}}, ARGS)
    assert lines and all(line["met"] is None for line in lines)  # "not measured", never "met"
    assert "1,000 streams, 10/s for 30 s" in lines[0]["line"]


def test_held_memory_splits_the_web_processes_from_pushpin():
    # given 1 stream, then 20,001 (20,000 beyond the first), then all closed; KB
    base = {"rss_kb": 100_000, "django_rss_kb": 80_000, "by_process": {"django-1": 80_000, "condure": 20_000}}
    full = {"rss_kb": 300_000, "django_rss_kb": 90_000,
            "by_process": {"django-1": 90_000, "condure": 210_000}}
    after = {"rss_kb": 150_000, "django_rss_kb": 90_000,
             "by_process": {"django-1": 90_000, "condure": 60_000}}
    memory = held_memory(base, full, after, established=20_001)
    assert memory["django_rss_growth_mb"] == round(10_000 / 1024, 1)
    assert memory["django_rss_per_stream_kb"] == 0.5
    assert memory["pushpin_rss_per_stream_kb"] == 9.5
    assert memory["pushpin_rss_full_mb"] == round(210_000 / 1024, 1)
    assert memory["rss_full_by_process_mb"] == {"django-1": round(90_000 / 1024, 1),
                                                "condure": round(210_000 / 1024, 1)}


def test_latest_cases_of_ours_pushpin_carry_the_split():
    summary = {"idle": {"median": {
        "ours": {"streams_established": 20_000, "rss_per_stream_kb": 17.6},
        "ours-pushpin": {"streams_established": 20_000, "rss_per_stream_kb": 9.9, "django_rss_growth_mb": 4.2,
                         "pushpin_rss_full_mb": 250.0}}, "contract": []},
        "pushpin_failover": {"median": {"ours-pushpin": {"streams_established": 1_000, "missing": 0,
                                                         "streams_lost": 0, "p99_ms": 30.0}},
                             "contract": []}}
    cases = {case["name"]: case for case in latest_document(summary, ARGS, "cmd")["cases"]}
    assert cases["idle/ours"]["server"] == "uvicorn" and "django_rss_growth_mb" not in cases["idle/ours"]
    held = cases["idle/ours-pushpin"]
    assert (held["server"], held["system"]) == ("pushpin+uvicorn", "callboard")
    assert held["django_rss_growth_mb"] == 4.2
    failover = cases["pushpin_failover/ours-pushpin"]
    assert (failover["subscribers"], failover["rate"], failover["lost"], failover["streams_lost"]) == (
        1_000, 10, 0, 0)


def test_requests_logged_counts_openings_and_next_links_in_an_access_log(tmp_path):
    log = tmp_path / "server.log"
    log.write_text(
        '{"logger": "uvicorn.error", "message": "Uvicorn running on http://127.0.0.1:8001"}\n'
        '{"logger": "callboard.request", "message": "GET /api/v1/events/stream 200"}\n'
        '{"logger": "callboard.request", "message": "GET /api/v1/grip/next/ 200"}\n'
        '{"logger": "callboard.request", "message": "GET /api/v1/grip/next/ 200"}\n')
    assert requests_logged(log) == {"openings": 1, "next_links": 2}
    assert requests_logged(tmp_path / "missing.log") == {"openings": 0, "next_links": 0}


def test_port_refuses_only_when_nothing_listens():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_refuses(port) is False
    assert port_refuses(port) is True
