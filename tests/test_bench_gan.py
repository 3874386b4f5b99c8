"""bench/bench_gan.py runs, tiny, on the CPU, and reports ratios against its own fp32 step."""


import pytest
import torch

TINY = {"batch": 2, "size": 32, "steps": 1, "repeats": 1, "warmup": 1, "base": 4, "width": 0.125}


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_gan")


def test_run_tiny_on_cpu(bench):
    threads = torch.get_num_threads()
    r = bench.run("cpu", **TINY)
    assert torch.get_num_threads() == threads  # restored
    assert r["device"] == "cpu" and r["tf32"] is False
    assert [(row["model"], row["variant"]) for row in r["rows"]] == [
        ("pix2pix", "fp32"), ("pix2pix", "channels-last"),
        ("cgan", "fp32"), ("cgan", "channels-last")]
    assert all(row["seconds"] > 0 for row in r["rows"])
    fp32 = {row["model"]: row["seconds"] for row in r["rows"] if row["variant"] == "fp32"}
    for row in r["rows"]:
        assert row["speedup"] == pytest.approx(fp32[row["model"]] / row["seconds"])


@pytest.mark.parametrize("variant", ["fp32", "channels-last"])
def test_the_timed_step_trains(bench, variant):
    """The step that time_step times really updates both networks (not an empty loop)."""
    cpu = torch.device("cpu")
    (chosen,) = [v for v in bench._variants(cpu) if v[0] == variant]
    step, G, D = bench.make_step("cgan", chosen, cpu, 2, 16, 4, 0.125, seed=0)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    step()
    after = list(G.parameters()) + list(D.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after))


def test_main_prints_a_table_and_rejects_bad_sizes(bench, capsys):
    r = bench.main(["--batch", "2", "--size", "32", "--steps", "1", "--warmup", "0",
                    "--base", "4", "--width", "0.125", "--models", "pix2pix"])
    out = capsys.readouterr().out
    assert [row["model"] for row in r["rows"]] == ["pix2pix", "pix2pix"]
    assert "ms/step" in out and "vs fp32" in out and "channels-last" in out
    assert "1.00x" in out
    with pytest.raises(ValueError, match="power of two"):
        bench.run("cpu", batch=2, size=48)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            bench.run("cuda", **TINY)
