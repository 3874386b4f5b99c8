"""bench/bench_quantize.py runs, tiny, and its two soft-encodings agree."""


import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_quantize")


def test_run_tiny(bench):
    r = bench.run(batch=1, size=8, repeats=1)
    for key in ("Q", "gamut_Q", "pixels", "colorlib_s", "sklearn_s", "ratio",
                "search_colorlib_s", "search_sklearn_s", "search_ratio", "max_diff"):
        assert key in r
    assert r["Q"] == 313 and 250 <= r["gamut_Q"] <= 330 and r["pixels"] == 64
    assert r["colorlib_s"] > 0 and r["sklearn_s"] > 0 and r["search_colorlib_s"] > 0
    assert r["ratio"] == pytest.approx(r["sklearn_s"] / r["colorlib_s"])
    assert r["max_diff"] < 1e-5


def test_run_compares_the_sparse_forms(bench):
    r = bench.run(batch=2, size=8, repeats=1, k=4)
    for key in ("sparse_colorlib_s", "sparse_sklearn_s", "sparse_ratio", "sparse_same_bins",
                "sparse_max_diff"):
        assert key in r
    assert r["sparse_colorlib_s"] > 0 and r["sparse_sklearn_s"] > 0
    assert r["sparse_ratio"] == pytest.approx(r["sparse_sklearn_s"] / r["sparse_colorlib_s"])
    # both forms agree with the reference: the same k bins everywhere (random ab, no
    # ties), the same weights, and the dense tensors too
    assert r["sparse_same_bins"] == 1.0
    assert r["sparse_max_diff"] < 1e-5 and r["max_diff"] < 1e-5


def test_main_prints_a_table(bench, capsys):
    r = bench.main(["--batch", "1", "--size", "8", "--repeats", "1", "--bins", "0", "--k", "3"])
    out = capsys.readouterr().out
    assert r["Q"] == r["gamut_Q"] and r["k"] == 3 and r["max_diff"] < 1e-5
    assert "soft_encode" in out and "ratio" in out and f"Q = {r['Q']}" in out
    assert "soft_encode_sparse" in out and r["sparse_same_bins"] == 1.0
    assert r["sparse_max_diff"] < 1e-5
