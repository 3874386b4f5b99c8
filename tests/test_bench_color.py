"""Smoke test of bench/bench_color.py, so the benchmark cannot silently rot."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_color")


def test_run_reports_both_operations(bench):
    rows = bench.run(batch=2, size=16, repeats=1)
    assert [r["operation"] for r in rows] == ["rgb_to_lab", "lab_to_rgb"]
    for r in rows:
        assert r["skimage_s"] > 0 and r["colorlib_s"] > 0
        assert r["speedup"] == pytest.approx(r["skimage_s"] / r["colorlib_s"])
        assert 0 <= r["max_abs_diff"] < 2e-3


def test_main_prints_a_table(bench, capsys):
    rows = bench.main(["--batch", "2", "--size", "16", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "rgb_to_lab" in out and "lab_to_rgb" in out and "speed-up" in out
    assert len(rows) == 2


def test_bad_sizes_are_rejected(bench):
    with pytest.raises(ValueError, match="batch, size and repeats"):
        bench.run(batch=0, size=16, repeats=1)
