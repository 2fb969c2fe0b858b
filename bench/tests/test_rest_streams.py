"""The pure parts of the benchmark harness (bench/run.py): the rest_streams scenario's
registration and arithmetic, and how REST is compared with its floor."""

from argparse import Namespace

from bench.run import (
    ALL_SCENARIOS,
    CONTRACT,
    DEFAULT_VARIANTS,
    SCENARIOS,
    compare_with_floor,
    p99_ratio,
    rest_mix,
    rest_streams_cases,
)


def test_rest_streams_is_registered_for_ours_only():
    assert "rest_streams" in ALL_SCENARIOS
    assert SCENARIOS["rest_streams"].__name__ == "scenario_rest_streams"
    assert DEFAULT_VARIANTS["rest_streams"] == ["ours"]
    assert any(scenario == "rest_streams" and metric == "p99_ratio" for scenario, metric, *_ in CONTRACT)


def test_every_listed_scenario_has_a_function_and_variants():
    for scenario in ALL_SCENARIOS:
        assert scenario in SCENARIOS
        assert scenario in DEFAULT_VARIANTS


def test_rest_mix_takes_the_kinds_in_turn_and_cycles_the_shorter():
    paths = {"detail": ["/d/1", "/d/2", "/d/3"], "calls": ["/calls"], "ledger": ["/l"]}
    assert rest_mix(paths, ["detail", "calls"]) == ["/d/1", "/calls", "/d/2", "/calls", "/d/3", "/calls"]
    assert rest_mix(paths, ["calls"]) == ["/calls"]


def test_rest_mix_skips_kinds_without_paths_and_refuses_none():
    assert rest_mix({"detail": ["/d/1"], "calls": []}, ["detail", "calls", "unknown"]) == ["/d/1"]
    try:
        rest_mix({"detail": []}, ["detail"])
    except ValueError:
        pass
    else:
        raise AssertionError("no paths at all must be refused")


def test_p99_ratio():
    assert p99_ratio(60.0, 40.0) == 1.5
    assert p99_ratio(None, 40.0) is None
    assert p99_ratio(60.0, None) is None
    assert p99_ratio(60.0, 0) is None


def test_rest_streams_cases_one_per_phase():
    args = Namespace(rest_streams_subscribers=1000, rest_streams_rate=10, rest_clients=20, rest_calls=10_000)
    medians = {"ours": {"subscribers": 200, "rate": 10, "without_p50_ms": 10.0, "without_p99_ms": 20.0,
                        "beside_p99_ms": 26.0, "beside_missing": 0,
                        "with_p50_ms": 15.0, "with_p99_ms": 30.0, "without_missing": 0, "with_missing": 2,
                        "rest_requests_per_s": 180.0, "rest_p99_ms": 90.0, "p99_ratio": 1.5,
                        "beside_rest_requests_per_s": 170.0, "beside_rest_p99_ms": 95.0,
                        "beside_p99_ratio": 1.3, "same_process_p99_ratio": 1.15}}
    without, beside, with_rest = rest_streams_cases(medians, args)
    assert without["name"] == "rest_streams/without_rest/ours"
    assert (without["subscribers"], without["p99_ms"], without["lost"]) == (200, 20.0, 0)
    assert "rest_requests_per_s" not in without
    assert beside["name"] == "rest_streams/rest_in_other_process/ours"
    assert (beside["p99_ms"], beside["p99_vs_without"], beside["rest_requests_per_s"]) == (26.0, 1.3, 170.0)
    assert "p99_vs_rest_in_other_process" not in beside
    assert with_rest["name"] == "rest_streams/with_rest/ours"
    assert (with_rest["p99_ms"], with_rest["lost"], with_rest["p99_vs_without"]) == (30.0, 2, 1.5)
    assert with_rest["p99_vs_rest_in_other_process"] == 1.15
    rest = (with_rest["rest_requests_per_s"], with_rest["rest_p99_ms"], with_rest["rest_clients"])
    assert rest == (180.0, 90.0, 20)


def test_ours_over_the_floor_is_the_median_of_the_repetitions_run_side_by_side():
    # given three repetitions of each, the machine at another speed in each pair
    record = {
        "runs": {"ours": [{"detail_requests_per_s": 100}, {"detail_requests_per_s": 200},
                          {"detail_requests_per_s": 90}],
                 "wsgi-floor": [{"detail_requests_per_s": 200}, {"detail_requests_per_s": 250},
                                {"detail_requests_per_s": 100}]},
        "median": {"ours": {"detail_requests_per_s": 100}, "wsgi-floor": {"detail_requests_per_s": 200}},
    }

    # when
    compare_with_floor(record)

    # then the median of the pairs' ratios (0.5, 0.8, 0.9), not the medians' ratio (0.5)
    assert record["median"]["ours"]["detail_vs_floor"] == 0.8


def test_with_one_floor_repetition_the_medians_are_compared():
    # given
    record = {
        "runs": {"ours": [{"calls_requests_per_s": 50}, {"calls_requests_per_s": 70}],
                 "wsgi-floor": [{"calls_requests_per_s": 80}]},
        "median": {"ours": {"calls_requests_per_s": 60}, "wsgi-floor": {"calls_requests_per_s": 80}},
    }

    # when
    compare_with_floor(record)

    # then
    assert record["median"]["ours"]["calls_vs_floor"] == 0.75
