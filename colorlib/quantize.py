"""Quantised ab colours: the classification view of colorization (Zhang et al., ECCV 2016).

Instead of regressing two numbers per pixel, the network of Zhang, Isola and Efros
predicts a probability for each of ``Q`` ab *bins*: the centres of a regular grid
of spacing 10 in the ab plane that real colours can reach (Q = 313 in the paper;
a replication on faces kept the Q = 247 bins its data occupied).  This module has
every piece around that idea, all in torch, vectorised, on the inputs' device:

=============================  ==========================================================
:class:`ABBins`                the bin centres, ``(Q, 2)``, and which grid cell is which bin
:func:`soft_encode`            ab ``(B, 2, H, W)`` -> soft targets ``(B, Q, H, W)``
                               (k nearest centres, Gaussian weights)
:func:`soft_encode_sparse`     the same without the zeros: ``(B, k, H, W)`` bin indices
                               and weights
:func:`empirical_prior`        how often each bin occurs in a dataset, ``(Q,)``
:func:`rebalance_weights`      class weights that boost rare (saturated) colours
:func:`pixel_weights`          the weight of each pixel's colour, ``(B, H, W)``
:func:`annealed_mean`          probabilities ``(B, Q, H, W)`` -> ab ``(B, 2, H, W)``
:func:`mode`                   the most probable bin's centre per pixel
=============================  ==========================================================

ab values are raw CIE Lab units (roughly -128 to 127), as everywhere in colorlib.

Example:
    >>> import torch
    >>> from colorlib import quantize
    >>> bins = quantize.ABBins.from_gamut()       # sRGB-reachable bins, grid 10
    >>> ab = torch.zeros(1, 2, 4, 4)
    >>> z = quantize.soft_encode(ab, bins)         # (1, Q, 4, 4), each pixel sums to 1
    >>> quantize.mode(z, bins).abs().max().item()  # the grey bin
    0.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch

__all__ = [
    "ABBins",
    "annealed_mean",
    "empirical_prior",
    "mode",
    "pixel_weights",
    "rebalance_weights",
    "soft_encode",
    "soft_encode_bruteforce",
    "soft_encode_sparse",
]

# Pixels are processed in chunks of this many so that memory stays bounded on big batches.
_CHUNK = 1 << 18


# --------------------------------------------------------------------------- the bins


class ABBins:
    """Centres of the ab bins on a regular grid, and a lookup from grid cells to bins.

    Every centre is a multiple of ``grid`` in both a and b (grid 10: -110, -100, ..., 110,
    as in the original).  Cell ``(i, j)`` of :attr:`lookup` is the grid point
    ``((origin[0] + i) * grid, (origin[1] + j) * grid)``; it holds that point's bin
    index, or -1 when the point is not a bin.

    Attributes:
        centers: (Q, 2) float32 ab centres, sorted by a, then b.
        grid: the grid spacing in ab units.
        lookup: (na, nb) int64 bin index of each cell of the centres' bounding box, or -1.
        origin: (2,) int64 integer grid coordinates of ``lookup[0, 0]``.

    Build them with :meth:`from_gamut` (colours sRGB can show), :meth:`from_data`
    (colours a dataset uses) or :meth:`from_centers` (e.g. read from released weights).
    """

    def __init__(self, centers, grid: float = 10.0):
        centers = torch.as_tensor(centers)
        if centers.dim() != 2 or centers.shape[1] != 2 or len(centers) == 0:
            raise ValueError(
                f"centers must be a non-empty (Q, 2) array of (a, b) values, "
                f"got shape {tuple(centers.shape)}"
            )
        if not grid > 0:
            raise ValueError(f"grid must be a positive spacing in ab units, got {grid}")
        self.grid = float(grid)
        cells64 = centers.detach().double() / self.grid
        cells = cells64.round()
        off = (cells64 - cells).abs().max().item()
        if not off <= 1e-3:
            raise ValueError(
                f"the centres are not on a grid of spacing {grid}: one is {off * grid:.4g} ab "
                "units away from a multiple of it; pass the right grid=, or round the centres"
            )
        cells = cells.long()
        if len(_unique_cells(cells)[0]) != len(cells):
            raise ValueError("two centres fall on the same grid point; remove duplicates")
        self.centers = (cells.double() * self.grid).float()
        self.origin = cells.min(dim=0).values
        size = (cells.max(dim=0).values - self.origin + 1).tolist()
        self.lookup = torch.full(size, -1, dtype=torch.long, device=centers.device)
        rel = cells - self.origin
        self.lookup[rel[:, 0], rel[:, 1]] = torch.arange(len(cells), device=centers.device)
        self._tables = {}  # search tables of soft_encode, per k and device

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_centers(cls, centers, grid: float = 10.0) -> ABBins:
        """Bins with the given ``(Q, 2)`` centres (rounded to the grid, order kept).

        Example: the 313 centres of Zhang et al.'s released network are its last 1x1
        conv's weights times 110 (see :func:`colorlib.models.zhang.load_released_weights`).
        """
        return cls(centers, grid)

    @classmethod
    def from_gamut(
        cls,
        grid: float = 10.0,
        L_values=None,
        steps: int = 64,
        L_tolerance: float = 1.0,
    ) -> ABBins:
        """The bins that some in-gamut sRGB colour falls into.

        A ``steps ** 3`` cube of sRGB colours is converted with
        :func:`colorlib.color.rgb_to_lab`; every grid point that is the nearest centre of
        at least one of those colours becomes a bin.

        With the defaults this gives **Q = 261** bins (a from -90 to 100, b from -110 to
        90; the same set as scikit-image's ``rgb2lab`` gives); 32 ** 3 to 128 ** 3
        samples give 259 to 262.  The original network has Q = 313, more than sRGB
        colours reach on this grid: use :meth:`grow` (``from_gamut().grow(313)``) for a
        set of that size, or :meth:`from_centers` with the released centres for the
        exact one.

        Args:
            grid: grid spacing in ab units.
            L_values: optional lightness values; then only colours whose L is within
                ``L_tolerance`` of one of them count (``L_values=[50]`` is the slice
                drawn in the paper's gamut figure).  Default: all lightness values.
            steps: samples per RGB axis.
            L_tolerance: half-width of each lightness slice.

        Returns:
            the bins, centres sorted by a then b.
        """
        centers = _gamut_centers(float(grid), _as_tuple(L_values), int(steps), float(L_tolerance))
        return cls(centers.clone(), grid)

    @classmethod
    def from_data(cls, source, grid: float = 10.0, min_count: int = 1) -> ABBins:
        """The bins a dataset's ab values actually fall into.

        This is how the face replication of Zhang et al. got Q = 247 on
        Labeled Faces in the Wild.

        Args:
            source: ab values: a tensor (B, 2, H, W), (2, H, W) or (N, 2), or an iterable
                of those (a list, a DataLoader); an item that is a tuple or list, such as
                an ``(L, ab)`` pair, contributes its last element.
            grid: grid spacing in ab units.
            min_count: keep grid points that are the nearest centre of at least this
                many pixels.

        Returns:
            the bins, centres sorted by a then b.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        found, counts = [], []
        for ab in _ab_rows(source):
            cells, n = _unique_cells(torch.round(ab.double() / grid).long())
            found.append(cells.cpu())
            counts.append(n.cpu())
        if not found:
            raise ValueError("from_data got no ab values: the source is empty")
        cells, total = _unique_cells(torch.cat(found), torch.cat(counts))
        keep = total >= min_count
        if not keep.any():
            raise ValueError(
                f"no grid point has min_count={min_count} pixels (the most has {total.max()}); "
                "lower min_count"
            )
        return cls(cells[keep].double() * grid, grid)

    # ----------------------------------------------------------------- methods

    def __len__(self) -> int:
        return len(self.centers)

    def __repr__(self) -> str:
        lo, hi = self.centers.min(0).values.tolist(), self.centers.max(0).values.tolist()
        return (
            f"ABBins(Q={len(self)}, grid={self.grid:g}, a in [{lo[0]:g}, {hi[0]:g}], "
            f"b in [{lo[1]:g}, {hi[1]:g}])"
        )

    @property
    def device(self) -> torch.device:
        return self.centers.device

    def to(self, device) -> ABBins:
        """A copy whose tensors live on ``device`` (the functions here also do it for you)."""
        device = torch.device(device)
        if device == self.device:
            return self
        out = object.__new__(ABBins)
        out.grid = self.grid
        out.centers = self.centers.to(device)
        out.lookup = self.lookup.to(device)
        out.origin = self.origin.to(device)
        out._tables = {}
        return out

    def index(self, ab: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """The bin of each ab value: the index of its nearest centre.

        Args:
            ab: float tensor with the (a, b) pair on dimension ``dim``: (..., 2) with the
                default ``dim=-1``, or an image batch (B, 2, H, W) with ``dim=1``.
            dim: the dimension that holds a and b.

        Returns:
            int64 tensor of ``ab``'s shape without ``dim``, values in [0, Q).
        """
        if ab.dim() == 0 or ab.shape[dim] != 2:
            raise ValueError(
                f"index expects the (a, b) pair on dimension {dim}, got shape {tuple(ab.shape)}; "
                "for an image batch (B, 2, H, W) pass dim=1"
            )
        rows = ab.movedim(dim, -1)
        out_shape = rows.shape[:-1]
        _, idx = _knn(rows.reshape(-1, 2), self, 1)
        return idx[:, 0].reshape(out_shape)

    def grow(self, num_bins: int) -> ABBins:
        """Add the grid points nearest to the current bins until there are ``num_bins``.

        Grid points are added in order of their distance to the nearest existing centre,
        ties broken by their distance to grey (a = b = 0), then by a, then by b; the new
        bins come after the old ones.  ``ABBins.from_gamut().grow(313)`` is a stand-in of
        the original's size when its released centres are not at hand.
        """
        q = len(self)
        if num_bins < q:
            raise ValueError(f"grow can only add bins: there are already {q} > {num_bins}")
        if num_bins == q:
            return self
        cells = torch.round(self.centers.double().cpu() / self.grid).long()
        margin = math.isqrt(num_bins) + 1
        lo, hi = cells.min(0).values - margin, cells.max(0).values + margin
        ga, gb = torch.meshgrid(
            torch.arange(int(lo[0]), int(hi[0]) + 1),
            torch.arange(int(lo[1]), int(hi[1]) + 1),
            indexing="ij",
        )
        cand = torch.stack([ga.reshape(-1), gb.reshape(-1)], 1)
        taken = (cand[:, None, :] == cells[None, :, :]).all(-1).any(-1)
        cand = cand[~taken]
        d_set = torch.cdist(cand.double(), cells.double()).min(1).values
        d_grey = cand.double().norm(dim=1)
        # lexicographic sort: the last key first, stable sorts keep the earlier keys' order
        order = torch.arange(len(cand))
        for key in (cand[:, 1], cand[:, 0], d_grey, d_set):
            order = order[torch.sort(key[order], stable=True).indices]
        new = cand[order[: num_bins - q]]
        centers = torch.cat([cells, new]).double() * self.grid
        return ABBins(centers.to(self.device), self.grid)


@functools.lru_cache(maxsize=8)
def _gamut_centers(grid: float, L_values, steps: int, L_tolerance: float) -> torch.Tensor:
    from . import color

    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    t = torch.linspace(0, 1, steps)
    r, g, b = torch.meshgrid(t, t, t, indexing="ij")
    rgb = torch.stack([r.reshape(-1), g.reshape(-1), b.reshape(-1)])[:, :, None]  # (3, N, 1)
    lab = color.rgb_to_lab(rgb)[:, :, 0].T  # (N, 3)
    if L_values is not None:
        near = (lab[:, :1] - torch.tensor(L_values)[None, :]).abs() <= L_tolerance
        lab = lab[near.any(1)]
        if len(lab) == 0:
            raise ValueError(
                f"no sRGB sample has a lightness within {L_tolerance} of {list(L_values)}; "
                "use L values in [0, 100] or a larger L_tolerance"
            )
    cells, _ = _unique_cells(torch.round(lab[:, 1:].double() / grid).long())
    return cells.double() * grid


def _unique_cells(cells: torch.Tensor, counts: torch.Tensor | None = None):
    """Distinct rows of integer cells (N, 2), sorted by a then b, and their total counts.

    ``counts`` (N,) says how many pixels each row stands for (default 1).  Faster than
    ``torch.unique(dim=0)``: each row is packed into one integer key and counted.
    """
    if counts is None:
        counts = torch.ones(len(cells), dtype=torch.long, device=cells.device)
    lo = cells.min(0).values
    span = int(cells[:, 1].max() - lo[1]) + 1
    keys = (cells[:, 0] - lo[0]) * span + (cells[:, 1] - lo[1])
    size = int(keys.max()) + 1
    if size <= 1 << 22:  # a small table: counting beats sorting
        total = torch.zeros(size, dtype=torch.long, device=cells.device)
        total.index_add_(0, keys, counts.long())
        uniq = total.nonzero()[:, 0]
        total = total[uniq]
    else:  # ab values spread very far: sort instead
        uniq, inverse = torch.unique(keys, return_inverse=True)
        total = torch.zeros(len(uniq), dtype=torch.long, device=cells.device)
        total.index_add_(0, inverse, counts.long())
    return torch.stack([uniq // span + lo[0], uniq % span + lo[1]], 1), total


def _as_tuple(values):
    if values is None:
        return None
    return tuple(float(v) for v in torch.as_tensor(values, dtype=torch.float64).reshape(-1))


def _ab_rows(source) -> Iterable[torch.Tensor]:
    """Yield (N, 2) ab tensors from a tensor or an iterable of tensors / (…, ab) tuples."""
    if isinstance(source, torch.Tensor) or hasattr(source, "__array__"):
        yield _to_rows(source)
        return
    if not isinstance(source, Iterable):
        raise TypeError(
            f"expected ab values (a tensor or an iterable of tensors), got {type(source).__name__}"
        )
    for item in source:
        if isinstance(item, (tuple, list)):
            item = item[-1]
        yield _to_rows(item)


def _to_rows(ab) -> torch.Tensor:
    ab = torch.as_tensor(ab)
    if not ab.is_floating_point():
        ab = ab.float()
    if ab.dim() == 4 and ab.shape[1] == 2:
        rows = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    elif ab.dim() == 3 and ab.shape[0] == 2:
        rows = ab.permute(1, 2, 0).reshape(-1, 2)
    elif ab.dim() == 2 and ab.shape[1] == 2:
        rows = ab
    else:
        raise ValueError(
            f"expected ab values of shape (B, 2, H, W), (2, H, W) or (N, 2), got "
            f"{tuple(ab.shape)}; from RGB use colorlib.color.rgb_to_lab(rgb)[:, 1:]"
        )
    _check_finite(rows)
    return rows


def _check_finite(ab: torch.Tensor) -> None:
    # min and max are finite exactly when every value is (NaN propagates through both);
    # one pass, cheaper than isfinite(ab).all()
    if ab.numel() and not all(math.isfinite(v) for v in torch.aminmax(ab.detach())):
        raise ValueError("ab contains NaN or infinite values; every pixel needs a real colour")


# --------------------------------------------------------------------------- nearest centres


# How a pixel finds its k nearest centres without looking at all Q of them.
#
# The ab plane is cut into small squares ("tiles") of side g / 4, g the grid spacing,
# aligned with the grid cells.  For every tile we list, once, the only bins that can be
# among the k nearest centres of *any* point of that tile.  Let dmin(c) and dmax(c) be
# the smallest and largest distance from a point of the (closed) tile to centre c, and
# U the k-th smallest dmax over all bins.  For any x in the tile those k bins are all
# within U of x, so x's k-th nearest centre is at most U away; a bin with dmin(c) > U is
# farther from x than k other bins and can never be among x's k nearest.  So a tile's
# candidates are the bins with dmin <= U, and the k nearest among them are exactly the
# k nearest among all Q.  For the sRGB gamut's bins and k = 5 that is at most 12
# candidates per tile (7 on average; 22 with whole grid cells as tiles) instead of 313.
# Tiles cover the bins plus a margin and at least [-130, 130] in a and b (every 8-bit Lab
# colour); only pixels beyond that compare themselves with all Q centres.

_TILES_PER_CELL = 4
_TABLE_MARGIN = 3  # grid cells around the bins' bounding box
_TABLE_REACH = 130.0  # the table always spans [-130, 130] in a and b


def _candidate_table(bins: ABBins, k: int, device: torch.device):
    """Per-tile candidate lists for the k-nearest search (see the comment above).

    Returns ``(first, size, cand, offset)``: the integer index of the first tile along a
    and b (2,), the number of tiles (na, nb), the candidates (na * nb, C) int64 padded
    with -1, and their centres minus the tile's lower corner, (na * nb, 2 * C) float32:
    all the a offsets, then all the b offsets, padded with a far-away point so that
    padding is never chosen.  On ``device``; cached on ``bins`` per k and device.
    """
    key = (k, str(device))
    if key in bins._tables:
        return bins._tables[key]
    g, s = bins.grid, _TILES_PER_CELL
    tile = g / s
    cells = torch.round(bins.centers.double().cpu() / g).long()
    reach = math.ceil(_TABLE_REACH / g)
    first = torch.minimum(cells.min(0).values - _TABLE_MARGIN, torch.tensor([-reach, -reach]))
    last = torch.maximum(cells.max(0).values + _TABLE_MARGIN, torch.tensor([reach, reach]))
    # tile u spans [u * tile - g / 2, (u + 1) * tile - g / 2]: grid cell i holds u = i*s ... i*s+s-1
    first, last = first * s, last * s + s - 1
    size = (last - first + 1).tolist()
    ua, ub = torch.meshgrid(
        torch.arange(int(first[0]), int(last[0]) + 1),
        torch.arange(int(first[1]), int(last[1]) + 1),
        indexing="ij",
    )
    corner = torch.stack([ua.reshape(-1), ub.reshape(-1)], 1).double() * tile - g / 2
    rel = bins.centers.double().cpu()[None] - corner[:, None]  # (tiles, Q, 2)
    h = tile / 2
    to_mid = (rel - h).abs()
    dmin = (to_mid - h).clamp_min(0).square().sum(-1)
    dmax = (to_mid + h).square().sum(-1)
    bound = dmax.kthvalue(k, dim=1).values
    is_cand = dmin <= bound[:, None] * (1 + 1e-9)
    C = int(is_cand.sum(1).max())
    # each tile's candidates first (a stable sort keeps them in bin order)
    order = torch.sort((~is_cand).to(torch.uint8), dim=1, stable=True).indices[:, :C]
    valid = is_cand.gather(1, order)
    cand = torch.where(valid, order, torch.full_like(order, -1))
    offset = rel.gather(1, order[..., None].expand(-1, -1, 2))
    offset = torch.where(valid[..., None], offset, torch.full_like(offset, 1e4 * g))
    offset = offset.permute(0, 2, 1).reshape(len(corner), 2 * C).float()
    table = (first.to(device), size, cand.to(device), offset.to(device))
    bins._tables[key] = table
    return table


def _knn(x: torch.Tensor, bins: ABBins, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest centres of each row of ``x`` (N, 2): squared distances and indices.

    Both (N, k), in no particular order along k; distances float32.
    """
    if not 1 <= k <= len(bins):
        raise ValueError(f"k must be between 1 and the number of bins ({len(bins)}), got {k}")
    _check_finite(x)
    table = _candidate_table(bins, k, x.device)
    bins = bins.to(x.device)
    x = x.float()
    d2s, idxs = [], []
    for start in range(0, len(x), _CHUNK):
        d2, idx = _knn_chunk(x[start : start + _CHUNK], bins, k, table)
        d2s.append(d2)
        idxs.append(idx)
    if not d2s:
        return x.new_zeros((0, k)), x.new_zeros((0, k), dtype=torch.long)
    return torch.cat(d2s), torch.cat(idxs)


def _knn_chunk(x: torch.Tensor, bins: ABBins, k: int, table):
    first, (na, nb), cand, offset = table
    C = cand.shape[1]
    g = bins.grid
    tile = g / _TILES_PER_CELL
    u = torch.floor((x + g / 2) / tile)
    # x relative to its tile's corner: small numbers, so the squared distances below
    # keep float32's precision even for colours far from grey
    y = x - (u * tile - g / 2)
    ij = u.long() - first
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < na) & (ij[:, 1] >= 0) & (ij[:, 1] < nb)
    tile_id = torch.where(inside, ij[:, 0] * nb + ij[:, 1], torch.zeros_like(ij[:, 0]))
    off = offset.index_select(0, tile_id)  # (N, 2C): whole rows, a fast copy
    d2 = (off[:, :C] - y[:, :1]).square_() + (off[:, C:] - y[:, 1:]).square_()
    best, pos = torch.topk(d2, k, dim=1, largest=False, sorted=False)
    idx = cand.index_select(0, tile_id).gather(1, pos)
    if not inside.all():  # beyond the table: compare with every centre
        rows = (~inside).nonzero()[:, 0]
        best[rows], idx[rows] = _knn_exhaustive(x[rows], bins.centers, k)
    return best, idx


def _knn_exhaustive(x: torch.Tensor, centers: torch.Tensor, k: int):
    """k nearest of ``centers`` (Q, 2) for each row of x (M, 2) by checking all of them."""
    dtype = torch.float32 if x.device.type == "mps" else torch.float64  # MPS has no float64
    c = centers.to(dtype)
    d2s, idxs = [], []
    for start in range(0, len(x), 8192):
        part = x[start : start + 8192].to(dtype)
        full = (part[:, :1] - c[:, 0]).square() + (part[:, 1:] - c[:, 1]).square()
        d2, idx = torch.topk(full, k, dim=1, largest=False, sorted=False)
        d2s.append(d2.float())
        idxs.append(idx)
    return torch.cat(d2s), torch.cat(idxs)


# How most pixels skip the search altogether.
#
# The *set* of a point's k nearest centres only changes where the point crosses a
# border of the order-k Voronoi diagram of the centres (the points with a tie between
# their k-th and (k+1)-th nearest centre).  Those borders are lines, so if the plane is
# cut into fine enough tiles, most tiles lie wholly inside one region, and every point
# of such a tile has the same k nearest centres: the tile can store them, and its
# pixels just read them (no distances, no top-k).
#
# Which tiles are those?  For two centres c and c', d(y, c)^2 - d(y, c')^2 =
# |c|^2 - |c'|^2 - 2 y . (c - c') is *linear* in the point y, so over a (rectangular)
# tile it is largest at one of the 4 corners.  Hence if a set S of k centres is a set of
# k nearest at each of the tile's 4 corners (every c in S no farther than every c' not
# in S), it is one at every point of the tile.  We take S = the k nearest centres of the
# tile's middle and check the corners, among the tile's candidates only (the other bins
# are never among the k nearest there, see above).  Ties are allowed (<=): a tile whose
# edge lies on a border, as the lines a, b = multiples of g / 2 often are on a regular
# grid, still stores a correct set.  Tiles that fail are cut into sub-tiles (see
# _SUB_TILES), and pixels where those fail too run the candidate search of
# :func:`_knn_chunk`.  All of it is exact in float64 (centres and
# corners are multiples of the tile side).  A pixel's tile is found in the input's
# float32 and then checked with the pixel's place in it (see :func:`_knn_indices_chunk`),
# so a pixel never reads a tile it is more than ~3e-8 ab units outside of.
#
# With tiles of g / 16 and the 313 bins of from_gamut().grow(313), 91% of the tiles
# need no search for k = 5 (99% for k = 1, 82% for k = 10).  Finer tiles leave fewer
# to search but make the table bigger.  Many tiles share a set (about 8,500 different
# sets among the 200,704 tiles there), so the tiles store a set *number* (2 bytes) and
# the sets are stored once: 0.4 MB and 0.1 MB, which stay in the CPU's (L2) cache,
# while the 16-byte sets of every tile (3.2 MB) did not, and each pixel's read cost a
# trip to the slower L3 cache (about 4x the time of both reads now).

_FIXED_TILES_PER_CELL = 16  # a multiple of _TILES_PER_CELL


def _fixed_table(bins: ABBins, k: int, device: torch.device):
    """Per fine tile, the number of its k nearest bins' set if it is the same all over it.

    Returns ``(ids, sub_ids, sets)``, int16 tensors (int32 if there are over 32767 sets
    or sub-tiled tiles).  ``sets`` (S, w): row 0 is -1 (no set: search), rows 1, 2, ...
    are sets of k bin indices, padded with -1 to w columns (a multiple of 16 bytes, for
    :func:`_read_rows`).  ``ids`` (na * r, nb * r), with r = _FIXED_TILES_PER_CELL //
    _TILES_PER_CELL fine tiles per candidate tile along a and b (fine tile ``(i, j)``
    lies in candidate tile ``(i // r, j // r)`` of :func:`_candidate_table`, same first
    corner): the row of ``sets`` of the tile's k nearest bins, 0 if its pixels must
    search, or -1 - s for a tile whose k nearest bins change inside it.  Such a tile is
    cut once more into _SUB_TILES x _SUB_TILES sub-tiles, checked the same way, and
    numbered s = 0, 1, ...; ``sub_ids[(s * _SUB_TILES + i) * _SUB_TILES + j]`` is the row
    of ``sets`` of its sub-tile (i, j), or 0.  On ``device``; cached on ``bins`` per k
    and device.
    """
    key = ("fixed", k, str(device))
    if key in bins._tables:
        return bins._tables[key]
    first, (na, nb), cand, _ = _candidate_table(bins, k, torch.device("cpu"))
    g = bins.grid
    r = _FIXED_TILES_PER_CELL // _TILES_PER_CELL
    tile, fine = g / _TILES_PER_CELL, g / _FIXED_TILES_PER_CELL
    # every candidate tile's candidates relative to its lower corner, in float64
    valid = cand >= 0
    ua = torch.arange(na).repeat_interleave(nb) + int(first[0])
    ub = torch.arange(nb).repeat(na) + int(first[1])
    corner = torch.stack([ua, ub], 1).double() * tile - g / 2
    centers = bins.centers.double().cpu()
    rel = centers[cand.clamp_min(0)] - corner[:, None]  # (tiles, C, 2)
    rel[~valid] = 1e6 * g  # padding: never near
    out = _sets_on_subtiles(rel, valid, cand, k, fine, r)  # (na * nb, r, r, k)
    out = out.view(na, nb, r, r, k).permute(0, 2, 1, 3, 4).reshape(na * r, nb * r, k)
    # the outermost tiles always search: pixels beyond the table are clamped onto them
    out[[0, -1]] = -1
    out[:, [0, -1]] = -1
    # the second level: the tiles a border crosses, cut into sub-tiles
    s = _SUB_TILES
    fa, fb = (out[1:-1, 1:-1, 0] < 0).nonzero(as_tuple=True)
    fa, fb = fa + 1, fb + 1
    parent = (fa // r) * nb + fb // r  # their candidate tiles
    offset = torch.stack([fa % r, fb % r], 1).double() * fine
    sub = _sets_on_subtiles(rel[parent] - offset[:, None], valid[parent], cand[parent], k,
                            fine / s, s).view(-1, k)
    # every set once, numbered from 1 (0: search)
    out, sub = out.view(-1, k), sub.view(-1, k)
    has_f, has_s = out[:, 0] >= 0, sub[:, 0] >= 0
    sets, number = torch.unique(torch.cat([out[has_f], sub[has_s]]), dim=0,
                                return_inverse=True)
    number += 1
    ids = torch.zeros(len(out), dtype=torch.long)
    ids[has_f] = number[: int(has_f.sum())]
    # a sub-tiled tile keeps its number s in the same table, as -1 - s
    ids.view(na * r, nb * r)[fa, fb] = -1 - torch.arange(len(fa))
    sub_ids = torch.zeros(len(sub), dtype=torch.long)
    sub_ids[has_s] = number[int(has_f.sum()) :]
    sets = torch.cat([torch.full((1, k), -1), sets])
    # int16: pixels read the tables in random order, and small tables stay in the
    # CPU's caches
    small = torch.int16
    if max(len(bins), len(sets), len(fa) + 1) > torch.iinfo(torch.int16).max:
        small = torch.int32
    table = (ids.to(small).view(na * r, nb * r).to(device), sub_ids.to(small).to(device),
             _padded(sets, small).to(device))
    bins._tables[key] = table
    return table


def _padded(rows: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``rows`` (..., k) as ``dtype``, padded with -1 to a multiple of 16 bytes per row."""
    per = 16 // dtype.itemsize
    k = rows.shape[-1]
    out = torch.full((*rows.shape[:-1], -(-k // per) * per), -1, dtype=dtype)
    out[..., :k] = rows
    return out


def _as_items(rows: torch.Tensor) -> torch.Tensor:
    """Padded rows (..., w) (see :func:`_padded`) as (n,) or (n, m) complex128 items."""
    items = rows.reshape(-1, rows.shape[-1]).view(torch.complex128)
    return items[:, 0] if items.shape[1] == 1 else items


def _read_rows(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``table.view(-1, w)[ids]``, (len(ids), w), for a table from :func:`_padded`.

    The same as ``table.view(-1, w).index_select(0, ids)``, but index_select copies
    rows of a few int16 (k = 5: 10 bytes) item by item, while on a 1-D tensor of
    16-byte items it moves whole items, ~3x faster.  So each 16-byte row is viewed as
    one complex128 number: nothing is computed with it, it is only copied.  (Writing
    rows back, ``index_copy_`` on the same view is fast for the same reason.)
    """
    out = _as_items(table).index_select(0, ids)
    return out.view(table.dtype).view(len(ids), table.shape[-1])


# The second level of :func:`_fixed_table`: a fine tile whose k nearest bins change
# inside it is cut into _SUB_TILES x _SUB_TILES sub-tiles.  A border (a line) crosses
# only a few of them, so most of its pixels still read their set: with the bins of
# from_gamut().grow(313) and k = 5, 1.5% of uniformly spread colours search instead of
# 9% (3% with 4 x 4 sub-tiles, which made the whole encoding 10% slower).  Only those
# 9% of the tiles get sub-tiles (2.3 MB of set numbers), and only their pixels read
# them.
_SUB_TILES = 8


def _sets_on_subtiles(rel, valid, cand, k, side, r):
    """The k nearest candidates of each of r x r sub-tiles, where they are fixed.

    ``rel`` (T, C, 2) float64: the candidates of T tiles relative to the tile's lower
    corner (padding far away, ``valid`` False); ``cand`` (T, C) their bin indices.
    Sub-tile (i, j) of side ``side`` starts at (i * side, j * side).  Returns (T, r, r,
    k) int64: the k nearest candidates of the sub-tile's middle if they are k nearest
    at its 4 corners too (then everywhere in it, see the comment above), else -1.
    """
    def d2_at(pa, pb):  # squared distances from the point (pa, pb) of every tile
        return (rel[..., 0] - pa).square() + (rel[..., 1] - pb).square()

    out = torch.full((len(rel), r, r, k), -1, dtype=torch.long)
    for di in range(r):  # one sub-tile position at a time, in all tiles together
        for dj in range(r):
            _, pos = torch.topk(d2_at((di + 0.5) * side, (dj + 0.5) * side), k, dim=1,
                                largest=False)
            in_s = torch.zeros_like(valid).scatter_(1, pos, True)
            ok = torch.ones(len(rel), dtype=torch.bool)
            for ca in (di * side, (di + 1) * side):
                for cb in (dj * side, (dj + 1) * side):
                    d2 = d2_at(ca, cb)
                    farthest_in = d2.masked_fill(~in_s, -math.inf).max(1).values
                    nearest_out = d2.masked_fill(in_s, math.inf).min(1).values
                    ok &= farthest_in <= nearest_out
            out[:, di, dj] = torch.where(ok[:, None], cand.gather(1, pos), -1)
    return out


def _knn_indices(x: torch.Tensor, bins: ABBins, k: int) -> torch.Tensor:
    """The indices (N, k) of the k nearest centres of each row of ``x`` (N, 2).

    int16 or int32, as in :func:`_fixed_table`; in no particular order along k.  Read
    from :func:`_fixed_table` where the pixel's tile (or sub-tile) allows it; the other
    pixels search their tile's candidates (:func:`_knn_chunk`), or all centres beyond
    the tables.
    """
    if not 1 <= k <= len(bins):
        raise ValueError(f"k must be between 1 and the number of bins ({len(bins)}), got {k}")
    _check_finite(x)
    tables = _tables_on(bins, k, x.device)
    parts = [_knn_indices_chunk(x[s : s + _CHUNK].T, bins.to(x.device), k, tables)[0]
             for s in range(0, len(x), _CHUNK)]
    if not parts:
        return torch.zeros((0, k), dtype=tables[0][0].dtype, device=x.device)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def _tables_on(bins: ABBins, k: int, device: torch.device):
    """The fixed table, the candidate table and the fine tiles' origin (a, b) in ab units."""
    cand_table = _candidate_table(bins, k, device)
    fixed = _fixed_table(bins, k, device)
    fine = bins.grid / _FIXED_TILES_PER_CELL
    r = _FIXED_TILES_PER_CELL // _TILES_PER_CELL
    # fine tile (0, 0) starts at the tables' lower corner; a multiple of the fine side
    lo = tuple(float(v) * r * fine - bins.grid / 2 for v in cand_table[0].tolist())
    return fixed, cand_table, lo


def _knn_indices_chunk(x, bins, k, tables, clamp=True):
    """The k nearest bins of the points ``x`` (2, ...): a values, then b values.

    Returns ``(idx, corner, y)``: ``idx`` (n, k), n the number of points, in the order of
    ``x.reshape(2, -1)``'s columns, as :func:`_knn_indices`; ``corner`` and ``y``, (2, n)
    float32 contiguous: the lower corner (a, b) of the point's fine tile (clamped to the
    table) and the point minus that corner, in ab units.  The corner is exact (a
    multiple of the fine side g / 16); for a point on the table y is one rounding of a
    number in [0, g / 16], off by ~3e-8 ab units at most (usually exact).
    ``clamp=False`` skips the clamping, for points known to be on the table.
    """
    (ids, sub_ids, sets), cand_table, lo = tables
    na, nb = ids.shape
    fine = bins.grid / _FIXED_TILES_PER_CELL
    # In x's own precision (float32: no conversion pass), planar (2, n) and contiguous:
    # pos[0] and pos[1] are plain 1-D rows, so the few pixels picked out below are
    # simple 1-D index_selects, not N-d advanced indexing.
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    lo_ = torch.tensor(lo, dtype=dtype, device=x.device).view(2, *[1] * (x.dim() - 1))
    pos = torch.empty(x.shape, dtype=dtype, device=x.device)
    # (x - lo) / fine in one pass (rounded: checked below)
    pos = torch.add(lo_ * (-1 / fine), x, alpha=1 / fine, out=pos).view(2, -1)
    if clamp:  # a pixel beyond the table lands on its outermost tiles, which always search
        pos[0].clamp_(0, na - 1)
        pos[1].clamp_(0, nb - 1)
    pos.floor_()  # the tiles (a, b) along each axis, as whole numbers
    corner = torch.empty(pos.shape, dtype=torch.float32, device=x.device)
    y = torch.empty(pos.shape, dtype=dtype, device=x.device)
    _corner_and_place(x, pos, lo_, fine, corner, y)
    # pos was rounded: a pixel a hair beside a tile's edge may have got the tile next
    # door.  Its y says so (y < 0 or y >= fine; y is computed to ~3e-8), and by how
    # many tiles.
    y_min, y_max = (v.item() for v in torch.aminmax(y))
    if y_min < 0 or y_max >= fine:
        pos += torch.div(y, fine).floor_()
        if clamp:
            pos[0].clamp_(0, na - 1)
            pos[1].clamp_(0, nb - 1)
        _corner_and_place(x, pos, lo_, fine, corner, y)
    if dtype != torch.float32:  # (float64 input: its y, small, rounded once)
        y = y.float()
    cell = pos.int()
    tile = torch.add(cell[1], cell[0], alpha=nb)  # cell_a * nb + cell_b
    # the row of `sets` of each pixel's tile (int32: an index for index_select)
    number = ids.view(-1).index_select(0, tile).int()
    special = (number <= 0).nonzero()[:, 0]  # tiles that search (0) or have sub-tiles
    if len(special):
        s = _SUB_TILES
        tiled = -1 - number.index_select(0, special).long()  # the sub-tiled tile's s
        ia = (y[0].index_select(0, special) * (s / fine)).long().clamp_(0, s - 1)
        ib = (y[1].index_select(0, special) * (s / fine)).long().clamp_(0, s - 1)
        part = sub_ids.index_select(0, (tiled.clamp(min=0) * s + ia) * s + ib).int()
        part.masked_fill_(tiled < 0, 0)  # no sub-tiles: search
        number.index_copy_(0, special, part)
    rows = _read_rows(sets, number)  # (n, w): the k bins, then padding
    if len(special):  # and search where the sub-tile is crossed too, or beyond the table
        left = special[part == 0]
        if len(left):
            points = x[(slice(None), *torch.unravel_index(left, x.shape[1:]))]
            points = points.T.float()  # (M, 2)
            found = torch.full((len(left), rows.shape[1]), -1, dtype=rows.dtype,
                               device=rows.device)
            found[:, :k] = _knn_chunk(points, bins, k, cand_table)[1]
            _as_items(rows).index_copy_(0, left, _as_items(found))
    return rows[:, :k], corner, y


def _corner_and_place(x, cells, lo, fine, corner, y):
    """Into ``corner`` and ``y`` (2, n): the lower corner of the tiles ``cells`` (2, n),
    whole numbers counted from ``lo`` (2, 1, ...), and the points ``x`` (2, ...) minus
    it (see :func:`_knn_indices_chunk`)."""
    torch.add(lo.view(2, 1), cells, alpha=fine, out=corner)
    torch.sub(x, corner.view(x.shape), out=y.view(x.shape))


# --------------------------------------------------------------------------- soft-encoding


def _check_ab_batch(ab: torch.Tensor, name: str = "ab") -> None:
    if not isinstance(ab, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(ab).__name__}")
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"{name} must have shape (B, 2, H, W), got {tuple(ab.shape)}")
    if not ab.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {ab.dtype}")


def _gaussian(d2: torch.Tensor, sigma: float) -> torch.Tensor:
    """Normalised Gaussian weights from squared distances (N, k)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive (ab units), got {sigma}")
    # Subtracting the nearest distance changes nothing after normalising, but keeps
    # colours far from every bin from underflowing to 0 / 0.
    w = torch.exp(-(d2 - d2.min(1, keepdim=True).values) / (2 * sigma**2))
    return w / w.sum(1, keepdim=True)


def soft_encode_sparse(
    ab: torch.Tensor, bins: ABBins, k: int = 5, sigma: float = 5.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encode ab colours, keeping only the non-zeros: which k bins, and their weights.

    The targets of :func:`soft_encode` without its Q - k zeros per pixel: each pixel's
    ``k`` nearest bin centres and weights proportional to exp(-d ** 2 / (2 sigma ** 2))
    (d: distance to the centre), summing to 1.  ``soft_encode`` is exactly this result
    scattered into a (B, Q, H, W) tensor of zeros::

        index, weight = soft_encode_sparse(ab, bins)
        z = torch.zeros(B, Q, H, W).scatter_(1, index, weight)   # == soft_encode(ab, bins)

    It is k / Q of the memory (5 / 313 in the paper) and much faster to make; a loss can
    use it directly, e.g. the cross-entropy is
    ``-(weight * log_softmax(logits, 1).gather(1, index)).sum(1)``.

    Most pixels do no search at all: their k nearest bins are read from a table of small
    tiles (see the comment above :func:`_fixed_table`); the rest search a short candidate
    list (:func:`_candidate_table`) or, beyond [-130, 130], all bins.  The indices are a
    set of k nearest centres: when several centres are equally far (or within float32
    rounding of it, ~1e-7 of the squared distance), any of them may be chosen, as in any
    k-nearest search.  The weights are computed in float32 from small numbers that are
    exact or nearly so (see the comment above :func:`_encode_chunk`; in float64 from the
    raw distances beyond the tables), so the result equals
    :func:`soft_encode_bruteforce` (``sparse=True``) to float32 rounding (~1e-7).

    Args:
        ab: (B, 2, H, W) float ab in raw units (any values).
        bins: the :class:`ABBins`; moved to ``ab``'s device if needed.
        k: number of neighbours, 1 <= k <= Q.
        sigma: Gaussian width in ab units.

    Returns:
        ``(index, weight)``, both (B, k, H, W) on ``ab``'s device: ``index`` int64 bin
        numbers in [0, Q), k different ones per pixel, in no particular order along k;
        ``weight`` float32 in [0, 1], summing to 1 over k (a far-away colour's farther
        neighbours may underflow to 0).  The largest weight is the nearest bin.

    Example:
        >>> import torch
        >>> from colorlib import quantize
        >>> bins = quantize.ABBins.from_gamut()
        >>> ab = torch.tensor([[[[0.0]], [[0.0]]]])        # (1, 2, 1, 1): grey
        >>> index, weight = quantize.soft_encode_sparse(ab, bins)
        >>> index.shape, weight.shape
        (torch.Size([1, 5, 1, 1]), torch.Size([1, 5, 1, 1]))
        >>> nearest = index.gather(1, weight.argmax(1, keepdim=True))  # (1, 1, 1, 1)
        >>> bins.centers[nearest.flatten()].tolist()                     # grey itself
        [[0.0, 0.0]]
        >>> round(weight.sum().item(), 6)
        1.0
    """
    _check_ab_batch(ab)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive (ab units), got {sigma}")
    if not 1 <= k <= len(bins):
        raise ValueError(f"k must be between 1 and the number of bins ({len(bins)}), got {k}")
    B, _, H, W = ab.shape
    ab = ab.detach()
    tables = _tables_on(bins, k, ab.device)
    bins = bins.to(ab.device)
    # one pass over ab: every value finite? all of them on the tables?
    on_table = True
    if ab.numel():
        vmin, vmax = (v.item() for v in torch.aminmax(ab))
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            _check_finite(ab)  # raises
        (fixed, _, _), _, lo = tables
        fine = bins.grid / _FIXED_TILES_PER_CELL
        # (short of the outermost tiles, so that no rounding takes a pixel off the table)
        hi = [lo[i] + (fixed.shape[i] - 1) * fine for i in (0, 1)]
        on_table = vmin >= max(lo) and vmax < min(hi)
    # The layout is (B, k, H * W): each of the k neighbours is a contiguous row of
    # pixels, so the sums and minima over k run along whole rows (fast), not over k
    # numbers at a time.  Whole images are encoded at a time, _CHUNK pixels or so.
    index = torch.empty(B, k, H * W, dtype=torch.long, device=ab.device)
    weight = torch.empty(B, k, H * W, dtype=torch.float32, device=ab.device)
    step = max(1, _CHUNK // max(1, H * W))
    for s in range(0, B, step):
        _encode_chunk(ab[s : s + step], bins, k, sigma, tables,
                      index[s : s + step], weight[s : s + step], on_table)
    return index.view(B, k, H, W), weight.view(B, k, H, W)


# How the weights are computed without float64 and without cancellation.
#
# A weight is exp(-d^2 / (2 sigma^2)) over the sum of the k such terms, so anything
# common to a pixel's k exponents cancels.  Write the pixel as x = p + y, p the lower
# corner of its fine tile and y its place inside (0 <= y <= g / 16), and o = c - p for
# each of its centres c.  Then d^2 = |y - o|^2 = |y|^2 - 2 y . o + |o|^2, and |y|^2 is
# common to the k centres, so the weights are the normalised exp((2 y . o - |o|^2) /
# (2 sigma^2)).  That is float32-friendly:
#   * p and the centres are multiples of g / 16, so o and |o|^2 are exact in float32
#     (small integers times 1/64 in ab units squared), and so is |o|^2 minus its
#     smallest value over the k centres, which we subtract (it is common to all k too)
#     to keep the exponents near 0: no underflow to 0 / 0 however far the colour is;
#   * y = x - p is one float32 rounding of a number below g / 16 (~3e-8 ab units at
#     most, usually none: x and p are float32 numbers less than a tile apart), and
#     small, so 2 y . o has float32's relative precision (~1e-7) on a number of a few
#     units at most.  (Float64 ab: y is taken in float64 and rounded once.)
# The direct way, |x - c|^2 for each centre then minus the smallest, loses ~1e-7 of
# |x - c|^2 itself in float32, which for colours 50 units from every bin is 1e-5 of
# the weight; this way stays ~1e-7 everywhere on the table.  Only colours beyond the
# table (past [-130, 130] and the bins' margin) use float64 on the raw distances.


def _encode_chunk(ab, bins, k, sigma, tables, index, weight, on_table):
    """soft_encode_sparse of ab (b, 2, H, W) into ``index`` and ``weight`` (b, k, H * W).

    ``on_table``: whether all of ``ab`` is known to lie on the tables.
    """
    B, _, H, W = ab.shape
    HW = H * W
    if B * HW == 0:
        return
    x = ab.reshape(B, 2, HW).transpose(0, 1)  # (2, B, HW), a view: the a plane, the b plane
    idx, corner, y = _knn_indices_chunk(x, bins, k, tables, clamp=not on_table)
    # transpose in the table's small integers, then widen: faster than both at once
    index.copy_(idx.view(B, HW, k).transpose(1, 2).contiguous())
    # per pixel (B, 1, HW) each: the corner p of its fine tile (exact: a multiple of
    # g / 16), and its place y = x - p in the tile, divided by sigma^2 (see above) and
    # times log2(e), as the weights are powers of 2 (exp2 is much faster than exp)
    pa, pb = corner.view(2, B, 1, HW)
    ya, yb = y.mul_(_LOG2_E / sigma**2).view(2, B, 1, HW)
    # the weights, a few images at a time (see _weights_part)
    ca, cb = bins.centers.float().T.contiguous()
    step = max(1, _WEIGHT_CHUNK // HW)
    for s in range(0, B, step):
        i = slice(s, s + step)
        _weights_part(ca, cb, index[i], ya[i], yb[i], pa[i], pb[i], sigma, weight[i])
    if not on_table:  # colours beyond the table: raw distances in float64
        na, nb = tables[0][0].shape
        fine = bins.grid / _FIXED_TILES_PER_CELL
        lo = x.new_tensor(tables[2], dtype=torch.float64)
        raw = (x.double() - lo[:, None, None]) * (1 / fine)  # (2, B, HW)
        # (those that the clamping moved: beyond the table, or in its last tile along a or b)
        off = (raw[0] < 0) | (raw[0] > na - 1) | (raw[1] < 0) | (raw[1] > nb - 1)  # (B, HW)
        b, p = off.nonzero(as_tuple=True)
        weight[b, :, p] = _weights_float64(x[:, b, p].T, index[b, :, p], bins.centers, sigma)


# The weights take a dozen elementwise passes over (b, k, H * W) arrays.  For the
# whole batch those are a few MB each and every pass streams them from main memory;
# for _WEIGHT_CHUNK pixels at a time (2^14 pixels, k = 5: 320 kB per array) the
# arrays one pass writes are still in the CPU's (L2) cache when the next pass reads
# them, which saves more than the extra calls cost.
_WEIGHT_CHUNK = 1 << 14
_LOG2_E = 1 / math.log(2)  # exp(z) = 2 ** (z * log2(e))


def _weights_part(ca, cb, index, ya, yb, pa, pb, sigma, weight):
    """Gaussian weights into ``weight`` (b, k, HW) of the bins ``index`` (b, k, HW).

    ``ca``, ``cb`` (Q,): the centres' a and b; ``ya``, ``yb``, ``pa``, ``pb`` (b, 1,
    HW): each pixel's place in its fine tile over sigma^2 (times log2(e)), and the
    tile's corner (see the comment above :func:`_encode_chunk`).
    """
    b, k, hw = index.shape
    # o = c - p for the k centres (all multiples of g / 16, exact in float32)
    flat = index.reshape(-1)
    oa = ca.index_select(0, flat).view(b, k, hw).sub_(pa)
    ob = cb.index_select(0, flat).view(b, k, hw).sub_(pb)
    e = torch.mul(oa, oa, out=weight)
    e.addcmul_(ob, ob)  # |o|^2, exact
    e -= e.amin(1, keepdim=True)
    # the exponent (2 y . o - (|o|^2 - min)) / (2 sigma^2) in base 2 (ya, yb include
    # log2(e) already), then the normalised power of 2
    e *= -_LOG2_E / (2 * sigma**2)
    e.addcmul_(oa, ya).addcmul_(ob, yb)
    e.exp2_()
    e /= e.sum(1, keepdim=True)


def _weights_float64(x, idx, centers, sigma):
    """Gaussian weights (M, k) float32 of rows x (M, 2) for the centres idx (M, k)."""
    dtype = torch.float32 if x.device.type == "mps" else torch.float64  # MPS has no float64
    c = centers.to(dtype)
    d2 = (c[:, 0][idx] - x[:, :1].to(dtype)).square_()
    d2 += (c[:, 1][idx] - x[:, 1:].to(dtype)).square_()
    return _gaussian(d2, sigma).float()


def soft_encode(
    ab: torch.Tensor,
    bins: ABBins,
    k: int = 5,
    sigma: float = 5.0,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Soft-encode ab colours over the bins: the training targets of Zhang et al.

    Each pixel gets weight on its ``k`` nearest bin centres, proportional to
    exp(-d ** 2 / (2 sigma ** 2)) (d: distance to the centre) and summing to 1; every
    other bin gets 0.  The paper uses k = 5 and sigma = 5.  This is
    :func:`soft_encode_sparse` scattered into zeros (see there for how the neighbours are
    found); the result equals :func:`soft_encode_bruteforce`.

    Args:
        ab: (B, 2, H, W) float ab in raw units (any values; those outside the bins get
            their true k nearest centres too).
        bins: the :class:`ABBins`; moved to ``ab``'s device if needed.
        k: number of neighbours, 1 <= k <= Q.
        sigma: Gaussian width in ab units.
        out: optional (B, Q, H, W) float32 contiguous tensor on ``ab``'s device to write
            the result into (reusing one saves allocating fresh memory every batch,
            which for big batches costs as much as the encoding itself).

    Returns:
        (B, Q, H, W) float32 on ``ab``'s device (``out`` if given); sums to 1 over Q,
        k non-zeros per pixel (fewer for colours far outside the bins, whose farther
        neighbours' weights underflow to 0).
    """
    index, weight = soft_encode_sparse(ab, bins, k, sigma)
    B, _, H, W = ab.shape
    shape = (B, len(bins), H, W)
    if out is None:
        out = torch.zeros(shape, device=ab.device)
    else:
        if out.shape != shape or out.dtype != torch.float32 or out.device != ab.device:
            raise ValueError(
                f"out must be a float32 tensor of shape {shape} on {ab.device}, got "
                f"{out.dtype} {tuple(out.shape)} on {out.device}"
            )
        if not out.is_contiguous():
            raise ValueError("out must be contiguous")
        out.zero_()
    out.view(B, len(bins), H * W).scatter_(
        1, index.view(B, k, H * W), weight.view(B, k, H * W)
    )
    return out


def soft_encode_bruteforce(
    ab: torch.Tensor,
    bins: ABBins,
    k: int = 5,
    sigma: float = 5.0,
    algorithm: str = "ball_tree",
    sparse: bool = False,
):
    """Reference :func:`soft_encode` with scikit-learn's ``NearestNeighbors`` (CPU, float64).

    The way the original training code found the neighbours (it used a ball tree);
    kept as an independent check and as the baseline of ``bench/bench_quantize.py``.
    Same arguments and result as :func:`soft_encode`; ``algorithm`` is passed to
    ``NearestNeighbors`` (``"ball_tree"``, ``"kd_tree"`` or ``"brute"``).  With
    ``sparse=True`` it returns what :func:`soft_encode_sparse` does instead: ``(index,
    weight)``, (B, k, H, W) int64 and float32, here ordered nearest first (the order of
    ``kneighbors``).
    """
    from sklearn.neighbors import NearestNeighbors

    _check_ab_batch(ab)
    if not 1 <= k <= len(bins):
        raise ValueError(f"k must be between 1 and the number of bins ({len(bins)}), got {k}")
    B, _, H, W = ab.shape
    x = ab.detach().permute(0, 2, 3, 1).reshape(-1, 2).double().cpu().numpy()
    centers = bins.centers.double().cpu().numpy()
    dist, idx = NearestNeighbors(n_neighbors=k, algorithm=algorithm).fit(centers).kneighbors(x)
    w = _gaussian(torch.from_numpy(dist).square(), sigma).float()
    idx = torch.from_numpy(idx)
    if sparse:
        index = idx.view(B, H, W, k).permute(0, 3, 1, 2).contiguous().to(ab.device)
        weight = w.view(B, H, W, k).permute(0, 3, 1, 2).contiguous().to(ab.device)
        return index, weight
    out = torch.zeros(B * H * W, len(bins))
    out.scatter_(1, idx, w)
    return out.view(B, H, W, len(bins)).permute(0, 3, 1, 2).contiguous().to(ab.device)


# --------------------------------------------------------------------------- rebalancing


def empirical_prior(source, bins: ABBins, sigma: float = 5.0) -> torch.Tensor:
    """How often each bin's colour occurs in a dataset, smoothed.

    Every pixel counts for its nearest bin; the counts are normalised, smoothed with a
    Gaussian of width ``sigma`` (ab units) over the bin centres
    (p~_q proportional to sum_r p_r exp(-|c_q - c_r| ** 2 / (2 sigma ** 2))) and
    normalised again.  Zhang et al. use sigma = 5 on ImageNet's pixels.

    Args:
        source: ab values: a tensor (B, 2, H, W), (2, H, W) or (N, 2), or an iterable of
            those (the last element of tuple items, e.g. ``(L, ab)`` batches).
        bins: the :class:`ABBins`.
        sigma: smoothing width in ab units; 0 for none.

    Returns:
        (Q,) float32 probabilities summing to 1, on the bins' device.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 (ab units), got {sigma}")
    counts = torch.zeros(len(bins), dtype=torch.float64, device=bins.device)
    for ab in _ab_rows(source):
        idx = bins.index(ab)
        counts += torch.bincount(idx, minlength=len(bins)).to(counts)
    if counts.sum() == 0:
        raise ValueError("empirical_prior got no ab values: the source is empty")
    p = counts / counts.sum()
    if sigma > 0:
        c = bins.centers.double()
        kernel = torch.exp(-torch.cdist(c, c).square() / (2 * sigma**2))
        p = kernel @ p
        p = p / p.sum()
    return p.float()


def rebalance_weights(prior: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Class-rebalancing weights of Zhang et al.: rare colours count more.

    w_q proportional to ((1 - lam) p_q + lam / Q) ** -1, scaled so that the expected
    weight of a pixel is 1: sum_q p_q w_q = 1.  ``lam = 0.5`` in the paper; ``lam = 1``
    gives every bin weight 1 (no rebalancing), ``lam = 0`` the plain inverse frequency.

    Args:
        prior: (Q,) non-negative bin frequencies (normalised here if they do not sum to 1,
            so raw counts work too).
        lam: mixing weight of the uniform distribution, in [0, 1].

    Returns:
        (Q,) float32 weights on ``prior``'s device.
    """
    prior = torch.as_tensor(prior)
    if prior.dim() != 1 or len(prior) == 0:
        raise ValueError(f"prior must be a non-empty 1-D tensor (Q,), got {tuple(prior.shape)}")
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    p = prior.double()
    if (p < 0).any() or not p.sum() > 0:
        raise ValueError("prior must be non-negative with a positive sum")
    p = p / p.sum()
    mix = (1 - lam) * p + lam / len(p)
    if (mix == 0).any():
        raise ValueError(
            "lam=0 with a bin of prior 0 gives an infinite weight; use lam > 0 or smooth the "
            "prior (empirical_prior(..., sigma=5))"
        )
    w = 1 / mix
    return (w / (p * w).sum()).float()


def pixel_weights(
    target: torch.Tensor, weights: torch.Tensor, bins: ABBins | None = None
) -> torch.Tensor:
    """The rebalancing weight of each pixel: the weight of its nearest bin.

    Args:
        target: either ab (B, 2, H, W) in raw units (``bins`` needed), or soft targets
            (B, Q, H, W) from :func:`soft_encode`, whose largest entry is the nearest bin
            (this is what the original code takes, the argmax of the soft target).
        weights: (Q,) from :func:`rebalance_weights`.
        bins: the :class:`ABBins`, required for ab input.

    Returns:
        (B, H, W) float32 weights on ``target``'s device.
    """
    weights = torch.as_tensor(weights)
    if weights.dim() != 1:
        raise ValueError(f"weights must be a 1-D (Q,) tensor, got shape {tuple(weights.shape)}")
    if target.dim() != 4:
        raise ValueError(
            f"target must be ab (B, 2, H, W) or soft targets (B, Q, H, W), got "
            f"{tuple(target.shape)}"
        )
    q = len(weights)
    if target.shape[1] == q and q != 2:
        idx = target.argmax(dim=1)
    elif target.shape[1] == 2:
        if bins is None:
            raise ValueError("pixel_weights needs bins= to find the bin of ab values")
        if len(bins) != q:
            raise ValueError(f"weights has {q} entries but bins has {len(bins)}")
        _check_ab_batch(target, "target")
        idx = bins.index(target.detach(), dim=1)
    else:
        raise ValueError(
            f"target has {target.shape[1]} channels: expected 2 (ab) or Q = {q} (soft targets)"
        )
    return weights.to(device=target.device, dtype=torch.float32)[idx]


# --------------------------------------------------------------------------- decoding


def _centers_of(bins) -> torch.Tensor:
    return bins.centers if isinstance(bins, ABBins) else torch.as_tensor(bins)


def _check_scores(x: torch.Tensor, centers: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != len(centers):
        raise ValueError(
            f"expected scores of shape (B, Q, H, W) with Q = {len(centers)} bins, got "
            f"{tuple(x.shape)}"
        )


def annealed_mean(
    scores: torch.Tensor, bins, T: float = 0.38, from_logits: bool = True
) -> torch.Tensor:
    """Decode a colour distribution with the annealed mean of Zhang et al.

    f_T(z) = exp(log z / T) / sum_q exp(log z_q / T) sharpens (T < 1) the distribution
    z, then the expected centre is returned.  T = 1 gives the mean (greyish), T -> 0 the
    mode (vivid but patchy); the paper uses T = 0.38.  Computed as
    ``softmax(log_softmax(scores) / T)``: stable for small T such as 0.01, and
    differentiable.

    Args:
        scores: (B, Q, H, W) logits (``from_logits=True``) or probabilities summing to 1
            over Q (``from_logits=False``).
        bins: :class:`ABBins` or a (Q, 2) tensor of centres.
        T: temperature, > 0.
        from_logits: whether ``scores`` are logits or probabilities.

    Returns:
        (B, 2, H, W) ab in raw units (within the centres' range), ``scores``' dtype.
    """
    if not T > 0:
        raise ValueError(f"the temperature T must be positive, got {T}; use mode() for T -> 0")
    centers = _centers_of(bins)
    _check_scores(scores, centers)
    if from_logits:
        log_p = torch.log_softmax(scores, dim=1)
    else:
        log_p = torch.log(scores.clamp_min(torch.finfo(scores.dtype).tiny))
    f = torch.softmax(log_p / T, dim=1)
    return torch.einsum("bqhw,qc->bchw", f, centers.to(device=f.device, dtype=f.dtype))


def mode(scores: torch.Tensor, bins) -> torch.Tensor:
    """The centre of the most probable bin per pixel (logits or probabilities).

    Args:
        scores: (B, Q, H, W).
        bins: :class:`ABBins` or a (Q, 2) tensor of centres.

    Returns:
        (B, 2, H, W) float32 ab in raw units.
    """
    centers = _centers_of(bins)
    _check_scores(scores, centers)
    idx = scores.argmax(dim=1)
    return centers.to(device=scores.device, dtype=torch.float32)[idx].permute(0, 3, 1, 2)
