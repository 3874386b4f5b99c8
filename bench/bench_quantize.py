"""Benchmark: colorlib's soft-encoding against scikit-learn's NearestNeighbors, on CPU.

Soft-encodes one random ab batch (B, 2, S, S) over Q ab bins (k nearest centres,
Gaussian weights; Zhang et al.'s training targets) in both forms, in the same run:

* sparse, the headline: :func:`colorlib.quantize.soft_encode_sparse` (per-tile tables
  of the k nearest bins, torch) against
  ``soft_encode_bruteforce(..., sparse=True)`` (scikit-learn's ``NearestNeighbors``;
  by default its brute-force search, every pixel against every centre; ``--algorithm
  ball_tree`` is the search the original training code used).  Both return the k bin
  indices and weights per pixel, (B, k, S, S) each;
* dense: :func:`colorlib.quantize.soft_encode` against ``soft_encode_bruteforce``, both
  the (B, Q, S, S) float32 tensor.

It prints the best of ``--repeats`` wall-clock times for each (the two sides take
turns, so both meet the same moments of a noisy machine), their ratios, the same
for the neighbour search alone, and the largest differences between the two results
(sparse: the weights matched bin by bin; dense: the whole tensors).

Where the time goes in the dense form: the result of the default batch is
32 x 313 x 64 x 64 float32 values, 164 MB, and merely allocating and zeroing fresh
memory of that size takes about 0.08 s on one core (mostly the operating system
mapping its pages in).  Both sides pay it, so it bounds the dense ratio (to about 4-5x
against the brute-force reference); the sparse form has no such floor, which is why it
is the headline (and the form a training loss needs: 5 values per pixel, not 313).

The bins: :meth:`ABBins.from_gamut` gives 261 sRGB bins, not the original 313, so by
default the set is grown to Q = 313 with the nearest grid points
(``ABBins.from_gamut().grow(313)``); ``--bins 0`` keeps the gamut's Q.  The ab values
are uniform over [-110, 110] in a and b, so many lie outside the bins.

    python bench/bench_quantize.py --batch 32 --size 64 --repeats 7 --k 5
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_timing import best_times  # bench/bench_timing.py

from colorlib import quantize


def run(
    batch: int = 32,
    size: int = 64,
    repeats: int = 7,
    k: int = 5,
    sigma: float = 5.0,
    bins: int = 313,
    algorithm: str = "brute",
    seed: int = 0,
    threads: int | None = 1,
) -> dict:
    """Time colorlib's soft-encoding and the scikit-learn reference on the same batch.

    Args:
        batch, size: the ab batch is (batch, 2, size, size).
        repeats: timed runs of each (the best is kept), after one warm-up run; the
            two sides take turns.
        k, sigma: neighbours and Gaussian width (ab units).
        bins: Q; the sRGB gamut bins grown to this many (0: the gamut's own Q).
        algorithm: ``NearestNeighbors`` algorithm of the reference (``"brute"``: every
            pixel against every centre, the reference of the course's target;
            ``"ball_tree"``: the search the original training code used).
        seed: seed of the random ab values.
        threads: threads of both sides while timing (torch's, and scikit-learn's
            OpenMP / BLAS pools through threadpoolctl; restored afterwards); default 1.
            None: leave both as they are.

    Returns:
        dict with ``Q``, ``gamut_Q``, ``pixels``; the sparse form ``sparse_colorlib_s``,
        ``sparse_sklearn_s``, ``sparse_ratio`` (sklearn / colorlib, the headline),
        ``sparse_same_bins`` (fraction of pixels whose k bins are the same set) and
        ``sparse_max_diff`` (largest weight difference, bin by bin); the dense form
        ``colorlib_s``, ``sklearn_s``, ``ratio`` and ``max_diff``; the neighbour search
        alone ``search_colorlib_s``, ``search_sklearn_s``, ``search_ratio``; ``threads``.
    """
    if batch < 1 or size < 1 or repeats < 1:
        raise ValueError("batch, size and repeats must be positive")
    ab_bins = quantize.ABBins.from_gamut()
    gamut_q = len(ab_bins)
    if bins and bins < gamut_q:
        raise ValueError(f"bins={bins} is fewer than the {gamut_q} gamut bins; use 0")
    if bins:
        ab_bins = ab_bins.grow(bins)
    gen = torch.Generator().manual_seed(seed)
    ab = torch.rand(batch, 2, size, size, generator=gen) * 220 - 110
    from threadpoolctl import threadpool_limits

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:  # scikit-learn's OpenMP / BLAS threads get the same limit as torch
        with threadpool_limits(limits=threads or None):
            return _measure(ab, ab_bins, gamut_q, repeats, k, sigma, algorithm)
    finally:
        torch.set_num_threads(previous_threads)


def _measure(ab, ab_bins, gamut_q, repeats, k, sigma, algorithm) -> dict:
    from sklearn.neighbors import NearestNeighbors

    batch, _, size, _ = ab.shape

    # sparse: (index, weight), (B, k, S, S) each
    (sparse_ours_s, (index, weight)), (sparse_ref_s, (ref_index, ref_weight)) = best_times(
        [lambda: quantize.soft_encode_sparse(ab, ab_bins, k, sigma),
         lambda: quantize.soft_encode_bruteforce(
             ab, ab_bins, k, sigma, algorithm=algorithm, sparse=True)],
        repeats,
    )
    # the same bins? (in no particular order along k: compare sorted by bin index)
    index, order = index.sort(1)
    weight = weight.gather(1, order)
    ref_index, order = ref_index.sort(1)
    ref_weight = ref_weight.gather(1, order)
    same = (index == ref_index).all(1)
    sparse_diff = float((weight - ref_weight).abs().amax(1)[same].max()) if same.any() else 0.0
    del index, weight, ref_index, ref_weight, order

    # dense: (B, Q, S, S)
    (ours_s, ours), (ref_s, ref) = best_times(
        [lambda: quantize.soft_encode(ab, ab_bins, k, sigma),
         lambda: quantize.soft_encode_bruteforce(ab, ab_bins, k, sigma, algorithm=algorithm)],
        repeats,
    )
    max_diff = float((ours - ref).abs().max())
    del ours, ref

    # the neighbour search alone (indices only, no weights)
    x = ab.permute(0, 2, 3, 1).reshape(-1, 2).contiguous()
    centers = ab_bins.centers.double().numpy()

    # fitted and converted once, outside the timing, as colorlib's tables are built once
    nn = NearestNeighbors(n_neighbors=k, algorithm=algorithm).fit(centers)
    points = x.double().numpy()

    def sklearn_search():
        return nn.kneighbors(points, return_distance=False)

    (search_ours_s, _), (search_ref_s, _) = best_times(
        [lambda: quantize._knn_indices(x, ab_bins, k), sklearn_search], repeats
    )

    return {
        "batch": batch,
        "size": size,
        "k": k,
        "sigma": sigma,
        "Q": len(ab_bins),
        "gamut_Q": gamut_q,
        "pixels": batch * size * size,
        "algorithm": algorithm,
        "sparse_colorlib_s": sparse_ours_s,
        "sparse_sklearn_s": sparse_ref_s,
        "sparse_ratio": sparse_ref_s / sparse_ours_s,
        "sparse_same_bins": float(same.double().mean()),
        "sparse_max_diff": sparse_diff,
        "colorlib_s": ours_s,
        "sklearn_s": ref_s,
        "ratio": ref_s / ours_s,
        "max_diff": max_diff,
        "search_colorlib_s": search_ours_s,
        "search_sklearn_s": search_ref_s,
        "search_ratio": search_ref_s / search_ours_s,
        "threads": torch.get_num_threads(),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--sigma", type=float, default=5.0)
    parser.add_argument("--bins", type=int, default=313,
                        help="Q: the sRGB gamut bins grown to this many (0: the gamut's Q)")
    parser.add_argument("--algorithm", default="brute",
                        choices=["ball_tree", "kd_tree", "brute"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads while timing (0: torch's default)")
    args = parser.parse_args(argv)
    r = run(args.batch, args.size, args.repeats, args.k, args.sigma, args.bins,
            args.algorithm, args.seed, args.threads or None)
    note = "" if r["Q"] == r["gamut_Q"] else f" (the sRGB gamut gives {r['gamut_Q']}; grown)"
    print(f"soft-encode {r['pixels']:,} pixels ({r['batch']} x {r['size']}x{r['size']}), "
          f"Q = {r['Q']}{note}, k = {r['k']}, sigma = {r['sigma']:g}, "
          f"{r['threads']} torch threads")
    print(f"  {'':30s}{'colorlib':>10s}{'sklearn':>10s}{'ratio':>8s}")
    rows = [("soft_encode_sparse (k/pixel)", "sparse_"), ("soft_encode (dense, Q/pixel)", ""),
            ("neighbour search only", "search_")]
    for label, p in rows:
        print(f"  {label:30s}{r[p + 'colorlib_s']:10.4f}{r[p + 'sklearn_s']:10.4f}"
              f"{r[p + 'ratio']:7.1f}x")
    print(f"  seconds, best of {args.repeats}; sklearn NearestNeighbors({r['algorithm']})")
    print(f"  sparse: same k bins for {r['sparse_same_bins']:.2%} of pixels, max |weight "
          f"difference| = {r['sparse_max_diff']:.2e}; dense: max |difference| = "
          f"{r['max_diff']:.2e}")
    return r


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
