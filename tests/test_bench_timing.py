"""bench/bench_timing.py: the benchmarks' shared timer takes turns and keeps the best times."""

import pytest


@pytest.fixture(scope="module")
def timing(load_bench):
    return load_bench("bench_timing")


def test_best_times_takes_turns_and_keeps_each_best(timing, monkeypatch):
    now = [0.0]  # a fake clock that each function moves on by its own duration
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    calls = []

    def runner(name, durations):
        def fn():
            calls.append(name)
            now[0] += durations.pop(0)
            return f"{name}{len(calls)}"
        return fn

    # one warm-up round (9 s each, not counted), then 2 timed rounds
    (a_s, a_out), (b_s, b_out) = timing.best_times(
        [runner("a", [9.0, 3.0, 1.0]), runner("b", [9.0, 2.0, 5.0])], repeats=2)
    assert calls == ["a", "b"] * 3
    assert (a_s, b_s) == (1.0, 2.0)
    assert (a_out, b_out) == ("a5", "b6")  # the results of the last calls


def test_best_times_rejects_no_repeats(timing):
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        timing.best_times([lambda: None], repeats=0)
