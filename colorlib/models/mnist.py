"""A small CNN that classifies MNIST digits: the warm-up of weeks 1 and 2.

The course's first source report trains a CNN on MNIST to more than 99 % test
accuracy before touching colour.  This network is the usual recipe for that:

====================  ==============  ==========================================
stage                 output          layers
====================  ==============  ==========================================
input                 (B, 1, 28, 28)  digit in [0, 1], normalised inside
block 1               (B, 32, 14, 14) 2 x (3x3 conv, BatchNorm, ReLU), max-pool, dropout
block 2               (B, 64, 7, 7)   2 x (3x3 conv, BatchNorm, ReLU), max-pool, dropout
classifier            (B, 10)         flatten, dense 128 + ReLU, dropout, dense 10
====================  ==============  ==========================================

It has 468,010 parameters.  It is a classifier, not a colorizer: it returns logits
(train it with ``F.cross_entropy``) and is not a :class:`~colorlib.models.Colorizer`.

Example:
    >>> import torch
    >>> net = MnistCNN()
    >>> net(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from . import register

MNIST_MEAN = 0.1307  # mean and standard deviation of the MNIST training pixels in [0, 1]
MNIST_STD = 0.3081


def _conv_block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    """Two 3x3 convs (BatchNorm, ReLU), then 2x2 max-pool and dropout: halves H and W."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
    )


class MnistCNN(nn.Module):
    """Digit (B, 1, 28, 28) in [0, 1] -> 10 class logits (B, 10).

    Args:
        dropout: dropout after each conv block; the dense layer uses twice as much.

    The input is standardised inside (``(x - 0.1307) / 0.3081``), so feed the
    images as they come from ``torchvision.transforms.ToTensor()``.
    """

    def __init__(self, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(1, 32, dropout),  # 28 -> 14
            _conv_block(32, 64, dropout),  # 14 -> 7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(2 * dropout),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> (B, 10) logits (not probabilities)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                f"MnistCNN expects digits of shape (B, 1, 28, 28), got {tuple(x.shape)}; "
                "add the channel dimension with x.unsqueeze(1) if it is missing"
            )
        x = (x - MNIST_MEAN) / MNIST_STD
        return self.classifier(self.features(x))


@register("mnist_cnn")
def mnist_cnn(dropout: float = 0.25) -> MnistCNN:
    """The MNIST warm-up classifier (468,010 parameters)."""
    return MnistCNN(dropout)
