"""colorlib.data: bundled samples, synthetic colours, training pairs, datasets and their errors."""

import socket

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color as skcolor
from torch.utils.data import TensorDataset

from colorlib import color, data
from colorlib.data.samples import SPLITS, load_photo

# ---------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------


def test_network_block_works(no_network):
    # guards the guard: the fixture really stops connections
    for connect in (lambda: socket.create_connection(("example.org", 80), timeout=1),
                    lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
                    lambda: socket.getaddrinfo("example.org", 80)):
        with pytest.raises(OSError, match="network disabled by the test"):
            connect()


def test_samples_load_offline_with_shapes_and_ranges(no_network):
    load_photo.cache_clear()  # decode the photographs again, now without network
    train, val = data.samples("train"), data.samples("val")
    assert isinstance(train, data.SampleImages)
    assert len(train) == 256 and len(val) == 64
    for ds, size in ((train, 64), (val, 64), (data.samples("val", size=24, n=5), 24)):
        assert ds.images.shape == (len(ds), 3, size, size)
        assert ds.images.dtype == torch.float32
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert torch.equal(ds[3], ds.images[3])
        assert len(ds.sources) == len(ds)
    # real photographs: plenty of colour, not gray or constant crops
    assert train.images.std() > 0.1
    assert (train.images.amax(dim=1) - train.images.amin(dim=1)).mean() > 0.05


def test_samples_are_deterministic_and_seed_dependent():
    a = data.samples("train", size=32, n=20, seed=1)
    b = data.samples("train", size=32, n=20, seed=1)
    c = data.samples("train", size=32, n=20, seed=2)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert (a.images - c.images).abs().mean() > 0.02


def test_train_and_val_use_different_photographs():
    train, val = data.samples("train", n=40), data.samples("val", n=40)
    assert set(train.sources) == set(SPLITS["train"])  # every photo is used
    assert set(val.sources) == set(SPLITS["val"])
    assert not set(train.sources) & set(val.sources)


def test_sample_crops_are_windows_of_their_photograph():
    # chelsea is 300 x 451: with size=150 the crop side is forced to 150 (no resizing),
    # and val crops are never flipped, so each crop must appear verbatim in the photo.
    photo = np.asarray(load_photo("chelsea"), dtype=np.float32) / 255.0  # (H, W, 3)
    ds = data.samples("val", size=150, n=4, seed=3)
    crops = [img for img, src in zip(ds.images, ds.sources) if src == "chelsea"]
    assert len(crops) == 2
    windows = np.lib.stride_tricks.sliding_window_view(photo, (150, 150), axis=(0, 1))
    for crop in crops:
        crop = crop.numpy()  # (3, 150, 150), the same layout as `windows[r, c]`
        first_row = windows[:, :, :, 0, :]  # (rows, cols, 3, 150): first line of each window
        hits = np.argwhere(np.abs(first_row - crop[:, 0, :]).max(axis=(-2, -1)) < 1e-6)
        assert any(np.abs(windows[r, c] - crop).max() < 1e-6 for r, c in hits)


def test_samples_bad_arguments():
    with pytest.raises(ValueError, match="train, val"):
        data.samples("test")
    with pytest.raises(ValueError, match="size"):
        data.samples("val", size=0)
    with pytest.raises(ValueError, match="n must"):
        data.samples("val", n=0)


# ---------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------


def test_synthetic_is_deterministic():
    a, b, c = data.synthetic(16, 16, seed=0), data.synthetic(16, 16, seed=0), data.synthetic(
        16, 16, seed=1)
    assert isinstance(a, data.SyntheticColors)
    assert a.images.shape == (16, 3, 16, 16) and a.images.dtype == torch.float32
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert torch.equal(a[5], a.images[5])


def test_synthetic_colours_follow_the_documented_rule():
    ds = data.synthetic(n=32, size=24, seed=4)
    rgb = ds.images
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    # pixels not touching the RGB cube's faces were not clipped, so they must obey the rule
    in_gamut = ((rgb > 0.002) & (rgb < 0.998)).all(dim=1, keepdim=True)
    assert in_gamut.float().mean() > 0.99  # measured: 1.0 (the rule stays inside sRGB)
    # independent reference: scikit-image's rgb2lab, in float64
    lab = torch.from_numpy(skcolor.rgb2lab(rgb.permute(0, 2, 3, 1).double().numpy(),
                                           channel_axis=-1)).permute(0, 3, 1, 2).float()
    L, ab = lab[:, :1], lab[:, 1:]
    assert 24.9 < L.min() and L.max() < 85.1 and L.max() - L.min() > 55
    err = (ab - ds.ab_from_L(L)).abs().amax(dim=1, keepdim=True)[in_gamut]
    assert err.max() < 0.05  # ab units; measured about 1e-3
    # the colours really vary: chroma 35 everywhere, hue changes with L
    assert torch.allclose(ab.norm(dim=1), torch.full_like(L[:, 0], 35.0), atol=0.05)
    assert ab.std(dim=(0, 2, 3)).min() > 10


def test_synthetic_ab_from_L_formula_at_known_points():
    L = torch.tensor([0.0, 20.0, 40.0]).view(3, 1, 1, 1)
    ab = data.SyntheticColors.ab_from_L(L).flatten(1)
    # angle = 2 pi L / 80 + pi: 180, 270 and 360 degrees
    expected = torch.tensor([[-35.0, 0.0], [0.0, -35.0], [35.0, 0.0]])
    assert torch.allclose(ab, expected, atol=1e-4)
    with pytest.raises(ValueError, match="1, H, W"):
        data.SyntheticColors.ab_from_L(torch.zeros(3, 8, 8))


# ---------------------------------------------------------------------------
# ColorizationPairs, loaders, augment
# ---------------------------------------------------------------------------

RANGES = {  # space: (x channels, x range, y channels, y bound per channel)
    "lab": (1, (0.0, 100.0), 2, (128.0, 128.0)),
    "yuv": (1, (0.0, 1.0), 2, (0.437, 0.616)),
    "rgb": (1, (0.0, 1.0), 3, None),
}


@pytest.mark.parametrize("space", ["lab", "yuv", "rgb"])
def test_pairs_shapes_ranges_and_round_trip(space):
    images = data.samples("val", size=32, n=8)
    pairs = data.ColorizationPairs(images, space=space)
    assert len(pairs) == 8
    xc, (lo, hi), yc, ybound = RANGES[space]
    for i in range(len(pairs)):
        x, y = pairs[i]
        assert x.shape == (xc, 32, 32) and y.shape == (yc, 32, 32)
        assert x.dtype == y.dtype == torch.float32
        assert lo <= x.min() and x.max() <= hi
        if ybound is None:
            assert 0.0 <= y.min() and y.max() <= 1.0
        else:
            assert (y.abs().amax(dim=(1, 2)) <= torch.tensor(ybound)).all()
        back = color.merge(x, y, space)
        assert (back - images[i]).abs().max() < 1e-3


def test_lab_pairs_agree_with_scikit_image():
    images = data.samples("val", size=16, n=2)
    x, y = data.ColorizationPairs(images, "lab")[1]
    ref = skcolor.rgb2lab(images[1].permute(1, 2, 0).double().numpy())
    assert np.abs(x[0].numpy() - ref[..., 0]).max() < 0.01
    assert np.abs(y.permute(1, 2, 0).numpy() - ref[..., 1:]).max() < 0.05


def test_pairs_take_the_image_of_labelled_items_and_reject_gray():
    rgb = torch.rand(4, 3, 8, 8)
    with_labels = data.ColorizationPairs(TensorDataset(rgb, torch.arange(4)), "yuv")
    plain = data.ColorizationPairs(rgb, "yuv")
    for i in range(4):
        assert all(torch.equal(a, b) for a, b in zip(with_labels[i], plain[i]))
    with pytest.raises(ValueError, match=r"3, H, W"):
        data.ColorizationPairs(torch.rand(2, 1, 8, 8), "lab")[0]
    with pytest.raises(ValueError, match="lab, yuv, rgb"):
        data.ColorizationPairs(rgb, "hsv")


def test_loaders_batches_order_and_seed():
    train, val = data.samples("train", size=16, n=20), data.samples("val", size=16, n=10)
    tl, vl = data.loaders(train, val, batch_size=8, space="lab", seed=5)
    x, y = next(iter(tl))
    assert x.shape == (8, 1, 16, 16) and y.shape == (8, 2, 16, 16)
    assert tl.pin_memory == torch.cuda.is_available()
    # validation keeps the dataset order
    vx = torch.cat([b[0] for b in vl])
    assert torch.allclose(vx, color.split(val.images, "lab")[0], atol=1e-4)
    # shuffling is reproducible with the same seed, different with another one
    same, _ = data.loaders(train, batch_size=8, seed=5)
    other, _ = data.loaders(train, batch_size=8, seed=6)
    assert torch.equal(next(iter(same))[0], x)
    assert not torch.equal(next(iter(other))[0], x)
    assert data.loaders(train)[1] is None
    with pytest.raises(ValueError, match="already gives 'lab'"):
        data.loaders(data.ColorizationPairs(train, "lab"), space="yuv")


def test_augment_flips_some_images_reproducibly():
    batch = torch.rand(64, 3, 8, 8)
    out = data.augment(batch, generator=torch.Generator().manual_seed(0))
    again = data.augment(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and out.shape == batch.shape
    flipped = torch.tensor([torch.equal(o, b.flip(-1)) for o, b in zip(out, batch)])
    kept = torch.tensor([torch.equal(o, b) for o, b in zip(out, batch)])
    assert (flipped ^ kept).all()  # each image is either mirrored or untouched
    assert 16 <= int(flipped.sum()) <= 48
    with pytest.raises(ValueError, match="B, C, H, W"):
        data.augment(torch.rand(3, 8, 8))


# ---------------------------------------------------------------------------
# real datasets: offline errors
# ---------------------------------------------------------------------------

DATASETS = {  # name in the message, call with download=False, a fetch hint that must appear
    "MNIST": (lambda root: data.mnist(root, download=False), "torchvision.datasets.MNIST"),
    "CIFAR-10": (lambda root: data.cifar10(root, download=False),
                 "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "Imagenette": (lambda root: data.imagenette(root, download=False),
                   "imagenette2-160.tgz"),
    "LFW": (lambda root: data.lfw_people(root, download=False), "torchvision.datasets.LFWPeople"),
}


@pytest.mark.parametrize("name", list(DATASETS))
def test_missing_dataset_error_says_what_to_do(tmp_path, no_network, name):
    open_it, hint = DATASETS[name]
    with pytest.raises(data.DatasetNotFoundError) as info:
        open_it(tmp_path)
    msg = str(info.value)
    assert name in msg
    assert str(tmp_path) in msg
    assert hint in msg
    assert "download=True" in msg and "copy the files into" in msg
    assert "QUICK=True" in msg and "COLORLIB_QUICK=1" in msg and "samples()" in msg
    assert isinstance(info.value, data.DataError) and isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("open_it", [data.cifar10, data.imagenette, data.lfw_people])
def test_failed_download_becomes_dataset_not_found(tmp_path, no_network, open_it):
    with pytest.raises(data.DatasetNotFoundError, match="download failed") as info:
        open_it(tmp_path, download=True)
    assert "COLORLIB_QUICK=1" in str(info.value)


def test_color_images_converts_and_centre_crops():
    stripes = np.zeros((20, 60, 3), np.uint8)  # red | green | blue, 20 columns each
    stripes[:, :20, 0] = stripes[:, 20:40, 1] = stripes[:, 40:, 2] = 255
    base = [(Image.fromarray(stripes), 7), (Image.fromarray(stripes[..., 0], "L"), 3)]
    ds = data.datasets.ColorImages(base, size=10)
    img = ds[0]
    assert img.shape == (3, 10, 10) and img.dtype == torch.float32
    # resized to 30 x 10, the centre square is the green stripe (its edges slightly blended)
    assert torch.allclose(img[:, :, 2:8], torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1).expand(
        3, 10, 6), atol=1e-3)
    assert ds[1].shape == (3, 10, 10) and torch.equal(ds[1][0], ds[1][1])  # gray -> gray RGB
    assert data.datasets.ColorImages(base)[0].shape == (3, 20, 60)  # size=None keeps it


def test_default_root_follows_the_environment(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("COLORLIB_DATA", str(tmp_path / "here"))
    assert data.default_root() == tmp_path / "here"
    with pytest.raises(data.DatasetNotFoundError, match="here"):
        data.cifar10(download=False)
    monkeypatch.delenv("COLORLIB_DATA")
    assert data.default_root().parts[-3:] == (".cache", "colorlib", "data")


# ---------------------------------------------------------------------------
# image_folder
# ---------------------------------------------------------------------------


def test_image_folder_reads_every_mode(tmp_path):
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[...] = (200, 50, 10, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((30, 30), 128, np.uint8), "L").save(tmp_path / "b.PNG")
    (tmp_path / "deeper").mkdir()
    Image.fromarray(np.full((16, 24), 40000, np.uint16)).save(tmp_path / "deeper" / "c.png")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = data.image_folder(tmp_path, size=12)
    assert [p.name for p in ds.files] == ["a.png", "b.PNG", "c.png"]
    expected = [(200 / 255, 50 / 255, 10 / 255), (128 / 255,) * 3, (40000 / 65535,) * 3]
    for i, rgb in enumerate(expected):
        img = ds[i]
        assert img.shape == (3, 12, 12) and img.dtype == torch.float32
        assert torch.allclose(img, torch.tensor(rgb).view(3, 1, 1).expand(3, 12, 12), atol=1e-3)


def test_image_folder_corrupt_file_names_path_and_reason(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "good.png")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    ds = data.image_folder(tmp_path, size=8)
    assert ds[1].shape == (3, 8, 8)  # "good.png" sorts after "broken.jpg"
    with pytest.raises(data.DataError) as info:
        ds[0]
    msg = str(info.value)
    assert str(bad) in msg and "cannot identify image file" in msg


def test_image_folder_empty_or_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="no image files") as info:
        data.image_folder(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    with pytest.raises(data.DataError, match="does not exist"):
        data.image_folder(tmp_path / "nowhere")
