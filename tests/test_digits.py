"""colorlib.data.digits: scikit-learn's bundled digits shaped like MNIST (quick mode of week 1)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader

from colorlib import data
from colorlib.models import build


def test_items_look_like_mnist(no_network):
    train = data.digits("train")
    assert isinstance(train, data.datasets.DigitImages)
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert isinstance(label, int) and 0 <= label <= 9
    assert train.images.shape == (len(train), 1, 28, 28)
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    assert train.images.amax(dim=(1, 2, 3)).min() > 0.5  # every digit has bright ink
    # the digit sits in the central 20 x 20 box, like MNIST: a 4-pixel black frame
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[4:24, 4:24] = False
    assert train.images[:, 0, frame].abs().max() == 0.0


def test_split_is_fixed_disjoint_and_complete():
    train, test = data.digits("train"), data.digits("test")
    assert (len(train), len(test)) == (1347, 450)
    both = torch.cat([train.indices, test.indices])
    assert sorted(both.tolist()) == list(range(1797))
    assert train.indices.tolist() == sorted(train.indices.tolist())
    again = data.digits("test")
    assert torch.equal(again.images, test.images) and torch.equal(again.labels, test.labels)
    # every class is in both splits, roughly in proportion
    for split in (train, test):
        counts = torch.bincount(split.labels, minlength=10)
        assert counts.min() >= 0.07 * len(split)


def test_images_and_labels_are_the_sklearn_digits():
    bunch = load_digits()
    test = data.digits("test")
    idx = test.indices.numpy()
    np.testing.assert_array_equal(test.labels.numpy(), bunch.target[idx])
    # the documented recipe: grey levels / 16, bilinear to 20 x 20, 4 black pixels around
    original = torch.from_numpy(bunch.images[idx] / 16.0).float()[:, None]
    big = torch.nn.functional.interpolate(original, size=(20, 20), mode="bilinear",
                                          align_corners=False)
    torch.testing.assert_close(test.images[:, :, 4:24, 4:24], big.clamp(0, 1))
    # and shrinking the box back gives (blurred) original digits
    small = torch.nn.functional.interpolate(test.images[:, :, 4:24, 4:24], size=(8, 8),
                                            mode="area")
    assert torch.corrcoef(torch.stack([small.flatten(), original.flatten()]))[0, 1] > 0.9


def test_transform_applies_on_read_only():
    calls = []

    def shift(image):
        calls.append(tuple(image.shape))
        return image.roll(3, dims=-1)

    plain, moved = data.digits("train"), data.digits("train", transform=shift)
    image, label = moved[5]
    assert calls == [(1, 28, 28)]
    assert torch.equal(image, plain.images[5].roll(3, dims=-1)) and label == plain[5][1]
    assert torch.equal(moved.images, plain.images)  # .images stay untransformed


def test_batches_feed_the_mnist_cnn():
    loader = DataLoader(data.digits("test"), batch_size=16)
    x, y = next(iter(loader))
    assert x.shape == (16, 1, 28, 28) and y.shape == (16,) and y.dtype == torch.int64
    assert build("mnist_cnn").eval()(x).shape == (16, 10)


def test_unknown_split():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.digits("val")
