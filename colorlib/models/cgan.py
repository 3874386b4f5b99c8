"""A conditional GAN that colorizes in YUV, with noise for diverse colorizations.

The design of the course's source report (Kraev, Safarani and Meyer), which
follows Cao et al., "Unsupervised Diverse Colorization via Generative
Adversarial Networks" (arXiv:1702.06674): 64 x 64 images of one LSUN class,
converted to YUV; the generator sees only Y plus random noise and outputs UV.

Generator (:class:`CGANGenerator`), from the report:

* one dense layer projects the noise vector z onto the image plane;
* six convolutions with stride 1 (so the image is never shrunk and fine detail
  survives): 128 maps 7x7, 64 5x5, 64 5x5, 64 5x5, 64 5x5, 32 5x5, each with
  BatchNorm and ReLU ("batch normalization everywhere before ReLUs");
* the gray image Y is fed to *every* layer (concatenated to its input), and the
  noise to the first three layers;
* a sigmoid output of two maps, the normalised U and V.

Discriminator (:class:`CGANDiscriminator`), from the report: (Y, UV) in, four
stride-2 convolutions 64, 128, 256, 512 maps, 5x5, BatchNorm and LeakyReLU,
then two fully connected layers "without activation functions" giving a logit.

Interpretations where the report is silent or ambiguous (our choices):

1. **Output layer.** The report's table lists six conv layers, the last with 32
   maps, but the output has two maps (U, V) with a sigmoid. We read the table as
   the six hidden layers and add a seventh, output convolution 5x5 -> 2 maps
   (5x5 like the other layers; Y is concatenated to its input as well).
2. **Noise.** z has ``noise_dim`` = 100 entries drawn uniformly from [-1, 1] (the
   DCGAN convention; the report only says "random noise"). The dense layer
   (no activation) maps it to an H x W plane, "a matrix of random noise of size
   matching the image size", concatenated as one extra channel to the input of
   layers 1-3. Because that dense layer has exactly ``size * size`` outputs the
   generator works at one image size only.
3. **Normalisation.** Y in [0, 1] enters as ``2 Y - 1``; UV enters the
   discriminator as ``U / 0.436`` and ``V / 0.615`` (both in [-1, 1]). The
   generator's sigmoid output s in (0, 1) becomes ``uv = (s - 0.5) * 2 * range``
   with range (0.436, 0.615): always a valid U and V.
4. **BatchNorm in the discriminator.** The report says "everywhere", so unlike
   DCGAN we also normalise after the first convolution. Convolutions followed
   by BatchNorm have no bias.
5. **The two dense layers.** flatten -> 64 -> 1; the report gives no width, 64
   is our choice. Taken literally ("without activation functions") there is no
   nonlinearity between them, so together they are one linear map of rank <= 64;
   we keep them as reported.
6. **Optimiser.** "RMSprop, learning rate 0.01 with a decay of 0.9": the report's
   code base is TensorFlow, whose RMSProp ``decay`` is the moving-average factor
   of the squared gradients, PyTorch's ``alpha``:
   ``torch.optim.RMSprop(params, lr=REPORT_RMSPROP_LR, alpha=REPORT_DECAY)``.
7. **Colorizing.** :meth:`CGANGenerator.predict` (used by ``colorize``) draws one
   noise sample per image; set ``generator.seed`` to an int to make it draw the
   same noise every call (reproducible figures). :meth:`CGANGenerator.sample`
   draws several for the diversity figure.  ``forward`` accepts only the size the
   generator was built for, but ``colorize`` takes any size: the gray image is
   resized to that size, and the predicted UV is resized back and merged with the
   full-resolution Y (colour at a lower resolution than brightness, as in the
   chroma subsampling of JPEG and video).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .base import Colorizer

U_MAX = 0.436  # U lies in [-0.436, 0.436]
V_MAX = 0.615  # V lies in [-0.615, 0.615]

# The report's training settings (LSUN churches, 64 x 64, about 5000 steps = 5 epochs).
REPORT_RMSPROP_LR = 0.01  # "learning rate of 0.01" with RMSprop (best of Adam, Adagrad, RMSprop)
REPORT_DECAY = 0.9  # "decay of 0.9": TensorFlow RMSProp decay = torch.optim.RMSprop(alpha=...)
REPORT_BATCH_SIZE = 128
REPORT_IMAGE_SIZE = 64
REPORT_STEPS = 5000
# Our default: 0.01 is 50x the step GANs are usually trained with; 2e-4 is the DCGAN/pix2pix value.
STABLE_LR = 2e-4


def _uv_range() -> torch.Tensor:
    return torch.tensor([U_MAX, V_MAX]).view(1, 2, 1, 1)


class CGANGenerator(Colorizer):
    """Y (B, 1, size, size) in [0, 1] and noise z -> UV (B, 2, size, size).

    See the module docstring for the architecture and the choices behind it.

    Args:
        noise_dim: length of the noise vector z (100).
        size: image height and width (64 in the report); only this size works.
        channels: maps of the six hidden conv layers.
        kernels: their kernel sizes ("same" padding, stride 1).
        noise_layers: how many of the first layers also receive the noise plane (3).
        out_kernel: kernel size of the output conv to UV (5).
        seed: if an int, :meth:`predict` uses this fixed noise seed; if None, it
            draws from PyTorch's global random generator.

    Shapes:
        ``forward(Y, z=None)``: Y (B, 1, size, size) in [0, 1], z (B, noise_dim)
        (drawn uniformly from [-1, 1] when None) -> UV (B, 2, size, size) with
        |U| < 0.436 and |V| < 0.615.
    """

    space = "yuv"
    stride = 1

    def __init__(
        self,
        noise_dim: int = 100,
        size: int = 64,
        channels: tuple[int, ...] = (128, 64, 64, 64, 64, 32),
        kernels: tuple[int, ...] = (7, 5, 5, 5, 5, 5),
        noise_layers: int = 3,
        out_kernel: int = 5,
        seed: int | None = None,
    ):
        super().__init__()
        if len(channels) != len(kernels):
            raise ValueError(f"give one kernel size per layer: {channels=} but {kernels=}")
        self.noise_dim = noise_dim
        self.size = size
        self.noise_layers = noise_layers
        self.seed = seed
        self.project = nn.Linear(noise_dim, size * size)

        self.layers = nn.ModuleList()
        c_prev = 0
        for i, (c, k) in enumerate(zip(channels, kernels)):
            c_in = c_prev + 1 + (1 if i < noise_layers else 0)  # features + Y [+ noise]
            self.layers.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c, k, padding=k // 2, bias=False),
                    nn.BatchNorm2d(c),
                    nn.ReLU(),
                )
            )
            c_prev = c
        self.out = nn.Conv2d(c_prev + 1, 2, out_kernel, padding=out_kernel // 2)
        self.register_buffer("uv_range", _uv_range(), persistent=False)

    def sample_noise(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Noise z (batch, noise_dim), uniform in [-1, 1].

        With a (CPU) ``torch.Generator`` the draw is reproducible; without one it
        comes from the global RNG (seed it with ``torch.manual_seed``).
        """
        z = torch.rand(batch, self.noise_dim, generator=generator)
        return (2 * z - 1).to(device if device is not None else self.uv_range.device)

    def forward(self, Y: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(Y, "Y")
        if tuple(Y.shape[-2:]) != (self.size, self.size):
            raise ValueError(
                f"this CGANGenerator was built for {self.size}x{self.size} images (its dense "
                f"noise layer makes a {self.size}x{self.size} plane) but Y is "
                f"{Y.shape[-2]}x{Y.shape[-1]}; resize the images or build one with "
                f"size={Y.shape[-2]}"
            )
        b = Y.shape[0]
        if z is None:
            z = self.sample_noise(b, device=Y.device)
        if tuple(z.shape) != (b, self.noise_dim):
            raise ValueError(f"z must have shape ({b}, {self.noise_dim}), got {tuple(z.shape)}")

        y = 2 * Y - 1
        noise = self.project(z).view(b, 1, self.size, self.size)
        x = None  # features of the previous layer
        for i, layer in enumerate(self.layers):
            inputs = [y] if x is None else [x, y]  # Y goes to every layer ...
            if i < self.noise_layers:
                inputs.append(noise)  # ... the noise plane to the first three
            x = layer(torch.cat(inputs, dim=1))
        s = torch.sigmoid(self.out(torch.cat([x, y], dim=1)))
        return (s - 0.5) * 2 * self.uv_range

    def reconstruction_loss(self, uv_pred: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """Mean absolute error of U / 0.436 and V / 0.615 (both channels on [-1, 1]).

        The report trains with the adversarial loss alone; this optional term
        (:func:`colorlib.train.fit_gan` ``recon_weight``) is the same L1 as
        pix2pix's, on the scale the discriminator sees.
        """
        return torch.nn.functional.l1_loss(uv_pred / self.uv_range, uv / self.uv_range)

    def predict(self, Y: torch.Tensor) -> torch.Tensor:
        """UV for one noise sample per image (fixed by ``self.seed`` when it is set).

        Y of another size than ``size`` x ``size`` is resized to it first (antialiased
        bilinear); the UV then has the generator's size, and
        :meth:`~colorlib.models.Colorizer.colorize` resizes it back to the image.
        """
        if Y.dim() == 4 and tuple(Y.shape[-2:]) != (self.size, self.size):
            Y = F.interpolate(Y, size=(self.size, self.size), mode="bilinear",
                              align_corners=False, antialias=True).clamp(0, 1)
        if self.seed is None:
            return self(Y)
        g = torch.Generator().manual_seed(self.seed)
        return self(Y, self.sample_noise(Y.shape[0], generator=g, device=Y.device))

    @torch.no_grad()
    def sample(
        self, Y: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` colorizations of each image, one noise draw each (no gradients).

        Call ``model.eval()`` first so that BatchNorm uses its running statistics.

        Args:
            Y: (B, 1, size, size) in [0, 1].
            n: number of samples.
            generator: optional CPU ``torch.Generator`` for reproducible noise.

        Returns:
            UV (n, B, 2, size, size).
        """
        return torch.stack(
            [self(Y, self.sample_noise(Y.shape[0], generator, Y.device)) for _ in range(n)]
        )


class CGANDiscriminator(nn.Module):
    """(Y, UV) -> one real/fake logit per image, (B, 1); no sigmoid (BCE-with-logits).

    Four 5x5 stride-2 convolutions (64, 128, 256, 512 maps), each followed by
    BatchNorm and LeakyReLU(0.2), then flatten -> dense 64 -> dense 1 with no
    activation (see the module docstring, points 4 and 5).

    Args:
        size: image height and width, a multiple of 16 (64 in the report).
        channels: maps of the four conv layers.
        hidden: width of the first dense layer (64, our choice).

    Shapes:
        Y (B, 1, size, size) in [0, 1] and UV (B, 2, size, size) with |U| <= 0.436,
        |V| <= 0.615 (normalised inside to [-1, 1]) -> logits (B, 1).
    """

    def __init__(
        self, size: int = 64, channels: tuple[int, ...] = (64, 128, 256, 512), hidden: int = 64
    ):
        super().__init__()
        steps = 2 ** len(channels)
        if size % steps:
            raise ValueError(f"size must be a multiple of {steps} (one halving per conv): {size}")
        self.size = size
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [
                nn.Conv2d(c_in, c, 5, stride=2, padding=2, bias=False),
                nn.BatchNorm2d(c),
                nn.LeakyReLU(0.2),
            ]
            c_in = c
        self.convs = nn.Sequential(*layers)
        side = size // steps
        self.dense = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.Linear(hidden, 1)
        )
        self.register_buffer("uv_range", _uv_range(), persistent=False)

    def forward(self, Y: torch.Tensor, UV: torch.Tensor) -> torch.Tensor:
        expected = (self.size, self.size)
        if Y.shape[1:] != (1, *expected) or UV.shape[1:] != (2, *expected):
            raise ValueError(
                f"CGANDiscriminator(size={self.size}) expects Y (B, 1, {self.size}, {self.size}) "
                f"and UV (B, 2, {self.size}, {self.size}), got {tuple(Y.shape)} and "
                f"{tuple(UV.shape)}"
            )
        x = torch.cat([2 * Y - 1, UV / self.uv_range], dim=1)
        return self.dense(self.convs(x))


def _scaled(channels: tuple[int, ...], width: float) -> tuple[int, ...]:
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return tuple(max(1, round(c * width)) for c in channels)


@register("cgan_generator")
def cgan_generator(noise_dim: int = 100, size: int = 64, width: float = 1.0) -> CGANGenerator:
    """The report's conditional-GAN generator (Y + noise -> UV) for ``size`` x ``size`` images.

    ``width`` scales the maps of every layer (1: the report's 128, 64, ..., 32;
    0.25 gives 32, 16, ..., 8 for quick CPU runs; the layout stays the same).
    """
    return CGANGenerator(noise_dim=noise_dim, size=size,
                         channels=_scaled((128, 64, 64, 64, 64, 32), width))


@register("cgan_discriminator")
def cgan_discriminator(size: int = 64, width: float = 1.0, hidden: int = 64) -> CGANDiscriminator:
    """The report's conditional-GAN discriminator ((Y, UV) -> one logit per image).

    ``width`` scales the maps of the four convolutions (1: 64, 128, 256, 512).
    """
    return CGANDiscriminator(size=size, channels=_scaled((64, 128, 256, 512), width),
                             hidden=hidden)
