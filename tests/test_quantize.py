"""colorlib.quantize: ab bins, soft-encoding, rebalancing and decoding.

References are computed independently here: nearest neighbours with scikit-learn's
brute-force search, Lab with scikit-image, weights and decodings with numpy.
"""

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from colorlib import quantize
from colorlib.quantize import ABBins

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def gamut_bins():
    return ABBins.from_gamut()


@pytest.fixture(scope="module")
def face_like_bins():
    # a narrow, skin-like ab distribution, as in the faces replication (Q = 247 there)
    g = torch.Generator().manual_seed(0)
    ab = torch.randn(20000, 2, generator=g) * torch.tensor([9.0, 13.0]) + torch.tensor([12.0, 18.0])
    return ABBins.from_data(ab)


def _bins(name, gamut_bins, face_like_bins):
    return {
        "gamut": gamut_bins,
        "grown313": gamut_bins.grow(313),
        "data": face_like_bins,
        "centers": ABBins.from_centers(face_like_bins.centers.flip(0)),  # another order
    }[name]


def _random_ab(shape, seed, spread=150.0, far=True):
    """Random float ab in [-spread, spread], plus (far=True) a few colours far outside."""
    g = torch.Generator().manual_seed(seed)
    ab = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * spread
    if far:
        ab[0, :, 0, :4] = torch.tensor([[400.0, -350.0, 131.3, -999.9],
                                        [-275.5, 180.2, 3.7, 0.1]])
    return ab.float()


def _numpy_soft_encode(ab, centers, k, sigma):
    """Independent reference: brute-force k-NN (scikit-learn) and numpy Gaussian weights."""
    B, _, H, W = ab.shape
    x = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    c = centers.double().numpy()
    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(c).kneighbors(x)
    d2 = dist**2
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * sigma**2))  # shift: same after normalising
    w /= w.sum(1, keepdims=True)
    out = np.zeros((len(x), len(c)))
    np.put_along_axis(out, idx, w, axis=1)
    return torch.from_numpy(out.reshape(B, H, W, len(c))).permute(0, 3, 1, 2).float()


# --------------------------------------------------------------------------- the bins


def test_from_gamut_matches_scikit_image(gamut_bins):
    from skimage.color import rgb2lab

    # the same 64^3 sRGB cube, converted with scikit-image instead of colorlib.color
    t = np.linspace(0, 1, 64)
    rgb = np.stack(np.meshgrid(t, t, t, indexing="ij"), -1).reshape(-1, 1, 3)
    ab = rgb2lab(rgb).reshape(-1, 3)[:, 1:]
    expected = set(map(tuple, np.round(ab / 10).astype(int).tolist()))
    ours = set(map(tuple, torch.round(gamut_bins.centers / 10).long().tolist()))
    # documented Q = 261 (the original's 313 reaches past sRGB); a plausible range:
    assert 250 <= len(gamut_bins) <= 330
    assert len(ours ^ expected) <= 2  # at most a boundary cell or two from float32 rounding
    assert (0, 0) in ours
    assert torch.equal(ABBins.from_gamut().centers, gamut_bins.centers)  # reproducible
    assert torch.equal(gamut_bins.centers % 10, torch.zeros_like(gamut_bins.centers))


def test_from_gamut_slice_is_a_subset(gamut_bins):
    mid = ABBins.from_gamut(L_values=[50])
    ours = set(map(tuple, gamut_bins.centers.tolist()))
    assert 100 < len(mid) < len(gamut_bins)
    assert set(map(tuple, mid.centers.tolist())) <= ours
    with pytest.raises(ValueError, match="lightness"):
        ABBins.from_gamut(L_values=[500])


def test_lookup_maps_cells_to_bins(gamut_bins):
    b = gamut_bins
    hit = (b.lookup >= 0).nonzero()
    assert len(hit) == len(b)
    idx = b.lookup[hit[:, 0], hit[:, 1]]
    cells = (hit + b.origin) * 10
    assert torch.equal(b.centers[idx], cells.float())


def test_from_data_counts_cells_and_accepts_loaders():
    g = torch.Generator().manual_seed(1)
    ab = torch.randn(4, 2, 16, 16, generator=g) * 20
    rows = ab.permute(0, 2, 3, 1).reshape(-1, 2).numpy()
    cells, counts = np.unique(np.round(rows / 10).astype(int), axis=0, return_counts=True)
    b = ABBins.from_data(ab)
    assert b.centers.tolist() == (cells * 10).astype(float).tolist()  # sorted by a, then b
    b3 = ABBins.from_data(ab, min_count=3)
    assert b3.centers.tolist() == (cells[counts >= 3] * 10).astype(float).tolist()
    # an iterable of (L, ab) batches, as a DataLoader yields, gives the same bins
    loader = [(torch.zeros(2, 1, 16, 16), ab[:2]), (torch.zeros(2, 1, 16, 16), ab[2:])]
    assert torch.equal(ABBins.from_data(loader).centers, b.centers)
    with pytest.raises(ValueError, match="shape"):
        ABBins.from_data(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="min_count"):
        ABBins.from_data(ab, min_count=10**9)


def test_from_centers_validates():
    b = ABBins.from_centers([[10.0, -20.0], [0.0, 0.0], [30.00001, 40.0]])
    assert b.centers.tolist() == [[10.0, -20.0], [0.0, 0.0], [30.0, 40.0]]  # order kept
    assert len(b) == 3 and b.index(torch.tensor([1.0, 2.0])).item() == 1
    with pytest.raises(ValueError, match="grid"):
        ABBins.from_centers([[12.0, 0.0]])
    with pytest.raises(ValueError, match="same grid point"):
        ABBins.from_centers([[10.0, 0.0], [10.0, 0.0]])
    with pytest.raises(ValueError, match=r"\(Q, 2\)"):
        ABBins.from_centers(torch.zeros(3))


def test_grow_adds_nearest_grid_points(gamut_bins):
    big = gamut_bins.grow(313)
    assert len(big) == 313
    assert torch.equal(big.centers[: len(gamut_bins)], gamut_bins.centers)
    new = big.centers[len(gamut_bins):]
    # every new bin touches the old set (distance 10 or 10 * sqrt(2) at most)
    assert torch.cdist(new, gamut_bins.centers).min(1).values.max() <= 10 * 2**0.5 + 1e-4
    assert torch.equal(gamut_bins.grow(313).centers, big.centers)
    with pytest.raises(ValueError, match="only add"):
        big.grow(300)


def test_index_is_the_nearest_centre(gamut_bins):
    ab = _random_ab((2, 2, 16, 16), seed=2)
    rows = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d = torch.cdist(rows.double(), gamut_bins.centers.double())
    assert torch.equal(gamut_bins.index(rows), d.argmin(1))
    assert torch.equal(gamut_bins.index(ab, dim=1).reshape(-1), d.argmin(1))
    with pytest.raises(ValueError, match="dim=1"):
        gamut_bins.index(ab)


# --------------------------------------------------------------------------- soft-encoding


@pytest.mark.parametrize("which", ["gamut", "grown313", "data", "centers"])
def test_soft_encode_matches_bruteforce(which, gamut_bins, face_like_bins):
    bins = _bins(which, gamut_bins, face_like_bins)
    ab = _random_ab((2, 2, 24, 24), seed=3)  # in and out of the bins, and far outside
    z = quantize.soft_encode(ab, bins, k=5, sigma=5.0)
    assert z.shape == (2, len(bins), 24, 24) and z.dtype == torch.float32
    ref = _numpy_soft_encode(ab, bins.centers, 5, 5.0)
    assert (z - ref).abs().max() < 1e-5
    public = quantize.soft_encode_bruteforce(ab, bins, k=5, sigma=5.0)
    assert (public - ref).abs().max() < 1e-5


@pytest.mark.parametrize("k", [1, 5, 10])
def test_soft_encode_rows_sum_to_one_with_k_nonzeros(k, gamut_bins):
    # (far from every bin the farther neighbours' weights underflow to 0 in float32)
    ab = _random_ab((1, 2, 20, 20), seed=4, spread=110.0, far=False)
    z = quantize.soft_encode(ab, gamut_bins, k=k, sigma=5.0)
    assert torch.allclose(z.sum(1), torch.ones(1, 20, 20), atol=1e-6)
    assert torch.equal((z > 0).sum(1), torch.full((1, 20, 20), k))
    ref = _numpy_soft_encode(ab, gamut_bins.centers, k, 5.0)
    assert (z - ref).abs().max() < 1e-5


def test_soft_encode_on_a_centre_and_on_a_midpoint():
    bins = ABBins.from_centers([[a, b] for a in (-10.0, 0.0, 10.0) for b in (-10.0, 0.0, 10.0)])
    ab = torch.tensor([[0.0, 0.0], [5.0, 0.0]]).T.reshape(1, 2, 1, 2)
    z = quantize.soft_encode(ab, bins, k=5, sigma=5.0)
    # on the centre: weight 1 at d = 0, exp(-100 / 50) at the four neighbours at d = 10
    w = np.array([1.0] + [np.exp(-2.0)] * 4)
    w /= w.sum()
    center = bins.index(torch.tensor([0.0, 0.0]))
    assert z[0, center, 0, 0].item() == pytest.approx(w[0], abs=1e-6)
    assert sorted(z[0, :, 0, 0][z[0, :, 0, 0] > 0].tolist()) == pytest.approx(sorted(w), abs=1e-6)
    # the largest weight goes to the nearest centre
    assert z[0, :, 0, 1].argmax() in (bins.index(torch.tensor([0.0, 0.0])),
                                      bins.index(torch.tensor([10.0, 0.0])))


@pytest.mark.parametrize("encode", [quantize.soft_encode, quantize.soft_encode_sparse])
def test_soft_encode_rejects_bad_input(gamut_bins, encode):
    one_bin = ABBins.from_centers([[0.0, 0.0]])
    for ab, bins, kwargs, message in [
        (torch.zeros(1, 3, 4, 4), gamut_bins, {}, r"\(B, 2, H, W\)"),
        (torch.full((1, 2, 2, 2), float("nan")), gamut_bins, {}, "NaN"),
        (torch.full((1, 2, 2, 2), float("inf")), gamut_bins, {}, "NaN"),
        (torch.zeros(1, 2, 2, 2), one_bin, {"k": 5}, "k must be"),
        (torch.zeros(1, 2, 2, 2), gamut_bins, {"k": 0}, "k must be"),
        (torch.zeros(1, 2, 2, 2), gamut_bins, {"sigma": 0}, "sigma"),
        (torch.zeros(1, 2, 2, 2), gamut_bins, {"sigma": -1}, "sigma"),
    ]:
        with pytest.raises(ValueError, match=message):
            encode(ab, bins, **kwargs)


def _check_sparse(index, weight, ab, centers, k, sigma):
    """Check soft_encode_sparse's result against scikit-learn's brute-force search.

    Tie-safe: where several centres are equally far (to float32 rounding) at the k-th
    place any of them is a right answer, so the checks are (1) the k chosen distances
    equal the k smallest distances, (2) the weights are the normalised Gaussians of the
    chosen distances and equal the reference's weights sorted, (3) where the k-th and
    (k+1)-th nearest are not tied, the index set is exactly the reference's.
    Returns which pixels had no tie, (N,) bool.
    """
    B, _, H, W = ab.shape
    assert index.shape == weight.shape == (B, k, H, W)
    assert index.dtype == torch.int64 and weight.dtype == torch.float32
    idx = index.permute(0, 2, 3, 1).reshape(-1, k).numpy()
    w = weight.permute(0, 2, 3, 1).reshape(-1, k).double().numpy()
    x = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    c = centers.double().numpy()
    assert idx.min() >= 0 and idx.max() < len(c)
    assert (np.diff(np.sort(idx, 1), axis=1) > 0).all()  # k different bins per pixel
    n = min(k + 1, len(c))
    _, ref_idx = NearestNeighbors(n_neighbors=n, algorithm="brute").fit(c).kneighbors(x)
    # distances recomputed exactly (scikit-learn's brute force expands |x - c|^2, which
    # loses ~1e-8 of |x|^2: too coarse to judge ties far from the bins)
    all_d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    sorted_d2 = np.sort(all_d2, 1)[:, :n]
    ref_d2 = sorted_d2[:, :k]
    d2 = np.take_along_axis(all_d2, idx, 1)  # exact distances of the chosen bins
    # (the candidate search compares float32 distances, so centres whose squared
    # distances differ by less than ~1e-7 of them count as tied)
    np.testing.assert_allclose(np.sort(d2, 1), ref_d2, rtol=1e-6, atol=1e-9)
    expect = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * sigma**2))
    expect /= expect.sum(1, keepdims=True)
    assert np.abs(w - expect).max() < 1e-5
    ref_w = np.exp(-(ref_d2 - ref_d2[:, :1]) / (2 * sigma**2))
    ref_w /= ref_w.sum(1, keepdims=True)
    assert np.abs(np.sort(w, 1) - np.sort(ref_w, 1)).max() < 1e-5
    if n > k:
        clear = sorted_d2[:, k] - sorted_d2[:, k - 1] > 1e-6 * sorted_d2[:, k]
    else:
        clear = np.ones(len(x), dtype=bool)
    assert np.array_equal(np.sort(idx[clear], 1), np.sort(ref_idx[clear, :k], 1))
    return clear


@pytest.mark.parametrize("k", [1, 5, 10])
@pytest.mark.parametrize("which", ["gamut", "grown313", "data"])
def test_soft_encode_sparse_matches_bruteforce(which, k, gamut_bins, face_like_bins):
    bins = _bins(which, gamut_bins, face_like_bins)
    ab = _random_ab((2, 2, 24, 24), seed=13)  # in and out of the bins, and far outside
    index, weight = quantize.soft_encode_sparse(ab, bins, k=k, sigma=5.0)
    _check_sparse(index, weight, ab, bins.centers, k, 5.0)
    # the scikit-learn reference in the same form
    ref_index, ref_weight = quantize.soft_encode_bruteforce(ab, bins, k=k, sparse=True)
    assert ref_index.shape == ref_weight.shape == (2, k, 24, 24)
    assert torch.equal(ref_index.sort(1).values, index.sort(1).values)  # random: no ties
    dense = torch.zeros(2, len(bins), 24, 24)
    assert (dense.scatter(1, index, weight)
            - dense.scatter(1, ref_index, ref_weight)).abs().max() < 1e-5


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_soft_encode_sparse_on_tile_borders_and_ties(k, gamut_bins):
    # every point of a 1.25 lattice: on the edges of the fine tiles (g / 16 = 0.625) and
    # the candidate tiles (2.5), on the cell borders (multiples of 5) and on the centres,
    # where many centres are equally far; from beyond the tables (+-130) to grey
    bins = gamut_bins.grow(313)
    t = torch.arange(-140.0, 140.01, 1.25)
    a, b = torch.meshgrid(t, t, indexing="ij")
    ab = torch.stack([a, b]).reshape(1, 2, len(t), len(t))
    index, weight = quantize.soft_encode_sparse(ab, bins, k=k, sigma=5.0)
    clear = _check_sparse(index, weight, ab, bins.centers, k, 5.0)
    assert clear.mean() < 1 or k == 1  # there were ties to test
    # just beside the borders too (float32 neighbours of the lattice points)
    for step in (-1, 1):
        near = torch.nextafter(ab, ab + step)
        index, weight = quantize.soft_encode_sparse(near, bins, k=k, sigma=5.0)
        _check_sparse(index, weight, near, bins.centers, k, 5.0)


def test_soft_encode_sparse_weights_far_from_the_bins_and_float64(gamut_bins):
    # far from every bin but on the tables (up to ~60 ab units away), float32 squared
    # distances would be off by ~1e-5 of the weights; beyond the tables (the second
    # image) the float64 path takes over; float64 ab must keep its precision too
    bins = gamut_bins.grow(313)
    t = torch.linspace(-136.0, 136.0, 41) + 0.3
    a, b = torch.meshgrid(t, t, indexing="ij")
    ab = torch.stack([a, b]).reshape(1, 2, len(t), len(t))
    both = torch.cat([ab, ab * 3])
    for x in (ab, both, ab.double() + 1e-7, both.double()):
        for k in (1, 5, 10):
            index, weight = quantize.soft_encode_sparse(x, bins, k=k, sigma=5.0)
            _check_sparse(index, weight, x, bins.centers, k, 5.0)


def test_soft_encode_sparse_in_weight_chunks_and_strided_input(gamut_bins):
    # more pixels than one chunk of the weights (and a last, partial chunk), from a
    # non-contiguous batch (every other image of a channels-last one): as the reference
    bins = gamut_bins.grow(313)
    per_image = 48 * 48
    n = 2 * (quantize._WEIGHT_CHUNK // per_image + 1) + 1
    ab = _random_ab((2 * n, 2, 48, 48), seed=5).to(memory_format=torch.channels_last)[::2]
    assert not ab.is_contiguous() and n * per_image > quantize._WEIGHT_CHUNK
    index, weight = quantize.soft_encode_sparse(ab, bins, k=5, sigma=5.0)
    _check_sparse(index, weight, ab, bins.centers, 5, 5.0)
    # the pixels of tiles that a border crosses went through the sub-tiles (or the search)
    ids, sub_ids, sets = quantize._fixed_table(bins, 5, torch.device("cpu"))
    assert (ids < 0).any() and len(sub_ids) % quantize._SUB_TILES**2 == 0


def test_soft_encode_is_the_sparse_form_scattered(gamut_bins):
    bins = gamut_bins.grow(313)
    ab = _random_ab((2, 2, 16, 16), seed=14)
    index, weight = quantize.soft_encode_sparse(ab, bins)
    z = quantize.soft_encode(ab, bins)
    assert torch.equal(z, torch.zeros_like(z).scatter_(1, index, weight))
    assert (z - quantize.soft_encode_bruteforce(ab, bins, algorithm="brute")).abs().max() < 1e-5
    out = torch.full_like(z, 7.0)  # old contents are overwritten
    assert quantize.soft_encode(ab, bins, out=out) is out and torch.equal(out, z)
    with pytest.raises(ValueError, match="out must be"):
        quantize.soft_encode(ab, bins, out=torch.zeros(2, 5, 16, 16))
    assert weight.argmax(1).shape == (2, 16, 16)  # the largest weight is the nearest bin
    nearest = index.gather(1, weight.argmax(1, keepdim=True))[:, 0]
    assert torch.equal(nearest, bins.index(ab, dim=1))


def test_soft_encode_sparse_of_an_empty_batch(gamut_bins):
    index, weight = quantize.soft_encode_sparse(torch.zeros(0, 2, 3, 3), gamut_bins)
    assert index.shape == weight.shape == (0, 5, 3, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_soft_encode_on_gpu_matches_cpu(gamut_bins):
    ab = _random_ab((2, 2, 32, 32), seed=5)
    z = quantize.soft_encode(ab.cuda(), gamut_bins)
    assert z.device.type == "cuda"
    assert (z.cpu() - quantize.soft_encode(ab, gamut_bins)).abs().max() < 1e-5


# --------------------------------------------------------------------------- rebalancing


def test_empirical_prior_matches_numpy(face_like_bins):
    bins = face_like_bins
    g = torch.Generator().manual_seed(6)
    ab = torch.randn(3, 2, 16, 16, generator=g) * torch.tensor([9.0, 13.0]).view(1, 2, 1, 1) + 15
    rows = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    c = bins.centers.double().numpy()
    nearest = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(c).kneighbors(rows)[1][:, 0]
    p = np.bincount(nearest, minlength=len(c)) / len(rows)
    d2 = ((c[:, None] - c[None]) ** 2).sum(-1)
    smooth = np.exp(-d2 / (2 * 5.0**2)) @ p
    smooth /= smooth.sum()
    prior = quantize.empirical_prior(ab, bins, sigma=5.0)
    assert prior.shape == (len(bins),)
    assert prior.sum().item() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(prior.numpy(), smooth, atol=1e-6)
    raw = quantize.empirical_prior([ab[:1], ab[1:]], bins, sigma=0)  # batches add up
    np.testing.assert_allclose(raw.numpy(), p, atol=1e-7)


def test_rebalance_weights():
    p = torch.tensor([0.5, 0.3, 0.15, 0.05, 0.0])
    w = quantize.rebalance_weights(p, lam=0.5)
    expected = 1 / (0.5 * p.double().numpy() + 0.5 / 5)
    expected /= (p.double().numpy() * expected).sum()
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert (p * w).sum().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.all(w[1:] > w[:-1])  # rarer colours weigh more
    assert torch.allclose(quantize.rebalance_weights(p, lam=1.0), torch.ones(5))
    assert torch.allclose(quantize.rebalance_weights(p * 40, lam=0.5), w)  # counts work too
    with pytest.raises(ValueError, match="infinite"):
        quantize.rebalance_weights(p, lam=0.0)
    with pytest.raises(ValueError, match="lam"):
        quantize.rebalance_weights(p, lam=1.5)


def test_pixel_weights_from_ab_and_from_soft_targets(gamut_bins):
    ab = _random_ab((2, 2, 8, 8), seed=7, spread=100.0)
    weights = torch.rand(len(gamut_bins), generator=torch.Generator().manual_seed(8)) + 0.5
    from_ab = quantize.pixel_weights(ab, weights, gamut_bins)
    from_z = quantize.pixel_weights(quantize.soft_encode(ab, gamut_bins), weights)
    rows = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    nearest = torch.cdist(rows.double(), gamut_bins.centers.double()).argmin(1)
    assert from_ab.shape == (2, 8, 8)
    assert torch.equal(from_ab.reshape(-1), weights[nearest])
    assert torch.equal(from_z, from_ab)
    with pytest.raises(ValueError, match="bins="):
        quantize.pixel_weights(ab, weights)


# --------------------------------------------------------------------------- decoding


def test_annealed_mean_at_t1_is_the_mean(gamut_bins):
    logits = torch.randn(2, len(gamut_bins), 3, 3, generator=torch.Generator().manual_seed(9))
    p = torch.softmax(logits.double(), 1).numpy()
    expected = np.einsum("bqhw,qc->bchw", p, gamut_bins.centers.double().numpy())
    ab = quantize.annealed_mean(logits, gamut_bins, T=1.0)
    np.testing.assert_allclose(ab.numpy(), expected, atol=1e-4)
    from_probs = quantize.annealed_mean(torch.softmax(logits, 1), gamut_bins, T=1.0,
                                        from_logits=False)
    np.testing.assert_allclose(from_probs.numpy(), expected, atol=1e-4)


def test_annealed_mean_small_t_is_the_mode(gamut_bins):
    g = torch.Generator().manual_seed(10)
    logits = torch.randn(2, len(gamut_bins), 4, 4, generator=g)
    winner = torch.randint(len(gamut_bins), (2, 4, 4), generator=g)
    logits.scatter_(1, winner[:, None], 5.0)  # a clear mode, >= 0.5 above the rest
    expected = gamut_bins.centers[winner].permute(0, 3, 1, 2)
    assert torch.equal(quantize.mode(logits, gamut_bins), expected)
    ab = quantize.annealed_mean(logits, gamut_bins, T=0.01)
    assert torch.isfinite(ab).all()
    assert (ab - expected).abs().max() < 1e-3


def test_annealed_mean_in_between_has_the_closed_form():
    # two bins with p = (0.7, 0.3): f_T puts 0.3^(1/T) / (0.7^(1/T) + 0.3^(1/T)) on the second
    centers = torch.tensor([[0.0, 0.0], [50.0, -20.0]])
    probs = torch.tensor([0.7, 0.3]).view(1, 2, 1, 1)
    ab = quantize.annealed_mean(probs, centers, T=0.38, from_logits=False)[0, :, 0, 0]
    share = 0.3 ** (1 / 0.38) / (0.7 ** (1 / 0.38) + 0.3 ** (1 / 0.38))
    assert ab.tolist() == pytest.approx([50 * share, -20 * share], abs=1e-4)
    mean = quantize.annealed_mean(probs, centers, T=1.0, from_logits=False)[0, :, 0, 0]
    assert 0 < ab.norm() < mean.norm()  # strictly between the mode (0, 0) and the mean


def test_annealed_mean_gradients_are_finite(gamut_bins):
    logits = (torch.randn(1, len(gamut_bins), 2, 2) * 30).requires_grad_(True)
    for T in (0.01, 0.38, 1.0):
        ab = quantize.annealed_mean(logits, gamut_bins, T=T)
        (grad,) = torch.autograd.grad(ab.square().sum(), logits)
        assert torch.isfinite(grad).all()
    with pytest.raises(ValueError, match="positive"):
        quantize.annealed_mean(logits, gamut_bins, T=0)
    with pytest.raises(ValueError, match="Q = "):
        quantize.annealed_mean(logits[:, :10], gamut_bins)
