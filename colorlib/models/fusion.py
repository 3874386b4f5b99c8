"""Deep Koalarization / Wallner "full": a colorizer that also sees what the image shows.

Baldassarre et al., "Deep Koalarization: Image Colorization using CNNs and
Inception-ResNet-v2" (2017), popularised as the "full version" of Emil Wallner's
blog post.  Four parts:

* **encoder** on the normalised lightness ``L / 50 - 1`` (= 2L/100 - 1, in [-1, 1]):
  3x3 convs with ReLU, channels 64 (s2), 128, 128 (s2), 256, 256 (s2), 512, 512, 256
  -> (B, 256, H/8, W/8) mid-level features;
* **embedding**: a *frozen* image classifier looks at the gray image and returns one
  vector per image (B, embed_dim) -- here the classifier's softmax probabilities, as
  in Wallner's version (Deep Koalarization used the 1001 logits);
* **fusion**: the vector is copied to every cell of the encoder grid, concatenated
  with the features (256 + embed_dim channels) and mixed by a 1x1 conv to 256
  channels with ReLU;
* **decoder**: 128, up, 64, 64, up, 32, 2 with tanh, up (3x3 convs, nearest x2
  upsampling), scaled by 127 to give ab.

Parameter counts of the trainable colorizer (the frozen classifier excluded):

==========================================  ===========
variant                                     parameters
==========================================  ===========
``embed_dim=1000`` (torchvision Inception)  6,573,794
``embed_dim=1001`` (Deep Koalarization)     6,574,050
``decoder="wallner"``, ``embed_dim=1000``   6,541,202
``fusion=False`` (no embedding; ablation)   6,317,794
==========================================  ===========

``decoder="wallner"`` swaps in Wallner's decoder (128, up, 64, up, 32, 16, 2 with
tanh, up) and reproduces his count; the normalisation stays Deep Koalarization's
(Wallner fed raw L and scaled ab by 128).  ``fusion=False`` is the same network
without the global vector: the 1x1 conv sees only the 256 encoder channels.

The classifier: any ``nn.Module`` mapping an ImageNet-normalised RGB batch
(B, 3, embed_size, embed_size) to (B, embed_dim).  The default is torchvision's
Inception v3 (random weights, or ImageNet weights with ``pretrained=True``)
followed by a softmax; :class:`TinyEmbedding` is a fast stand-in for tests and
quick runs.  Its input is the gray image (L with a = b = 0, as RGB), resized
to ``embed_size`` (299 for Inception v3; as small as 75 works, faster but less
accurate).  The classifier is frozen: no gradients, always in eval mode, run
under ``torch.no_grad()``; it is part of ``state_dict()`` though, so a
checkpoint of the Inception version is about 100 MB larger.

Two steps are also plain functions, used by the model and by the week-3
exercise checks: :func:`embedding_input` (what the classifier sees) and
:func:`tile_and_concat` (the fusion before the 1x1 conv).

Example:
    >>> import torch
    >>> model = FusionColorizer(TinyEmbedding(1000), embed_size=64)
    >>> model(100 * torch.rand(2, 1, 64, 64)).shape
    torch.Size([2, 2, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import color
from ..pretrained import IMAGENET_MEAN, IMAGENET_STD
from . import register
from .base import Colorizer
from .wallner import conv_stack

L_SCALE = 50.0  # L in [0, 100] -> L / 50 - 1 in [-1, 1]
AB_SCALE = 127.0  # tanh output in [-1, 1] -> ab in [-127, 127]
INCEPTION_MIN_SIZE = 75  # the smallest input torchvision's Inception v3 accepts

# Conv layers as (channels, stride), "up" = nearest upsampling x2 (see wallner.conv_stack).
ENCODER_LAYERS = [(64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1),
                  (256, 1)]
DECODER_LAYERS = {
    "koalarization": [(128, 1), "up", (64, 1), (64, 1), "up", (32, 1), (2, 1), "up"],
    "wallner": [(128, 1), "up", (64, 1), "up", (32, 1), (16, 1), (2, 1), "up"],
}


def embedding_input(L: torch.Tensor, size: int) -> torch.Tensor:
    """The classifier's input: L (B, 1, H, W) in [0, 100] -> (B, 3, size, size).

    The gray image (Lab with a = b = 0, converted to sRGB, so R = G = B) is
    resized to ``size`` x ``size`` (bilinear, antialiased) and normalised with
    the ImageNet mean and standard deviation, as the ImageNet weights expect.
    Computed in float32.
    """
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"embedding_input expects L of shape (B, 1, H, W), got {tuple(L.shape)}")
    L = L.float()
    zeros = torch.zeros_like(L)
    rgb = color.lab_to_rgb(torch.cat([L, zeros, zeros], dim=1))
    rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN, device=L.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=L.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


def tile_and_concat(features: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """The fusion step: copy ``vector`` to every cell of the grid and stack it on ``features``.

    Args:
        features: (B, C, H, W) encoder features.
        vector: (B, D), one global vector per image.

    Returns:
        (B, C + D, H, W): the C feature channels first, then the D copies.
    """
    if vector.dim() != 2 or vector.shape[0] != features.shape[0]:
        raise ValueError(f"tile_and_concat expects a vector of shape (B, D) = "
                         f"({features.shape[0]}, D), got {tuple(vector.shape)}")
    tiled = vector.to(features.dtype)[:, :, None, None].expand(-1, -1, *features.shape[-2:])
    return torch.cat([features, tiled], dim=1)


class InceptionEmbedding(nn.Module):
    """torchvision's Inception v3 + softmax: (B, 3, h, w) ImageNet-normalised -> (B, 1000).

    ``h`` and ``w`` must be at least 75 (299 is what the network was trained on).
    Built with ``transform_input=True``, as torchvision does for its ImageNet
    weights: the ImageNet-normalised input is re-scaled inside to the [-1, 1]
    range those weights expect.
    """

    min_size = INCEPTION_MIN_SIZE

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if min(rgb.shape[-2:]) < self.min_size:
            raise ValueError(f"Inception v3 needs images of at least {self.min_size}x"
                             f"{self.min_size}, got {tuple(rgb.shape[-2:])}; raise embed_size")
        return self.net(rgb).softmax(dim=1)


def inception_embedding(pretrained: bool = False) -> InceptionEmbedding:
    """torchvision's Inception v3 (1000 ImageNet classes) as a softmax embedding.

    Args:
        pretrained: load ImageNet weights through
            ``colorlib.pretrained.load_state_dict("inception_v3_imagenet")`` (a
            verified download, cached); otherwise random weights.
    """
    from torchvision.models import inception_v3

    # init_weights=False: PyTorch's default init.  torchvision's truncated-normal init
    # is several times slower to build, and random weights are only a stand-in anyway.
    net = inception_v3(weights=None, aux_logits=False, init_weights=False,
                       transform_input=True)
    if pretrained:
        from ..pretrained import load_state_dict

        state = load_state_dict("inception_v3_imagenet")
        # The auxiliary classifier only helps training; this network has none.
        state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
        net.load_state_dict(state)
    return InceptionEmbedding(net)


class TinyEmbedding(nn.Module):
    """A small stand-in classifier: (B, 3, h, w) -> softmax over ``embed_dim`` (B, embed_dim).

    Three stride-2 convs, global average pooling and a linear layer: enough to
    test the fusion plumbing in milliseconds; it knows nothing about images.
    """

    def __init__(self, embed_dim: int = 1000, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(width, embed_dim)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(rgb)).softmax(dim=1)


class FusionColorizer(Colorizer):
    """L (B, 1, H, W) in [0, 100] -> ab (B, 2, H, W) in [-127, 127]; H, W multiples of 8.

    Args:
        embedding: the frozen classifier (see the module docstring); default
            :func:`inception_embedding` with random weights.  Must be ``None``
            when ``fusion=False``.
        embed_dim: length of the classifier's output vector (1000 for Inception v3).
        fusion: ``False`` drops the classifier altogether (the ablation).
        embed_size: side of the square image the classifier sees (299 for
            Inception v3; 75 is its minimum and is much faster).
        decoder: ``"koalarization"`` (default) or ``"wallner"``.

    Its frozen classifier is ``self.embedding``; :meth:`train` never switches it
    out of eval mode.  :func:`colorlib.models.count_parameters` with
    ``trainable_only=True`` counts the colorizer alone.
    """

    space = "lab"
    stride = 8

    def __init__(self, embedding: nn.Module | None = None, embed_dim: int = 1000,
                 fusion: bool = True, embed_size: int = 299, decoder: str = "koalarization"):
        super().__init__()
        if decoder not in DECODER_LAYERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of "
                             f"{', '.join(DECODER_LAYERS)}")
        if not fusion and embedding is not None:
            raise ValueError("fusion=False uses no embedding; pass embedding=None")
        if fusion and embedding is None:
            if embed_dim != 1000:
                raise ValueError(f"the default Inception v3 embedding has 1000 outputs, not "
                                 f"embed_dim={embed_dim}; pass your own embedding module")
            embedding = inception_embedding(pretrained=False)
        min_size = getattr(embedding, "min_size", 1)
        if fusion and embed_size < min_size:
            raise ValueError(f"embed_size={embed_size} is too small for "
                             f"{type(embedding).__name__}; use at least {min_size}")
        self.fusion = fusion
        self.embed_dim = embed_dim
        self.embed_size = embed_size
        self.encoder = conv_stack(ENCODER_LAYERS, in_channels=1, tanh_last=False)
        self.embedding = embedding
        if embedding is not None:
            embedding.requires_grad_(False)
            embedding.eval()
        fused_channels = 256 + embed_dim if fusion else 256
        self.fuse = nn.Sequential(nn.Conv2d(fused_channels, 256, 1), nn.ReLU(inplace=True))
        self.decoder = conv_stack(DECODER_LAYERS[decoder], in_channels=256)

    def train(self, mode: bool = True) -> FusionColorizer:
        """Like ``nn.Module.train``, but the frozen classifier always stays in eval mode."""
        super().train(mode)
        if self.embedding is not None:
            self.embedding.eval()
        return self

    def embedding_input(self, L: torch.Tensor) -> torch.Tensor:
        """What the classifier sees: :func:`embedding_input` at ``self.embed_size``."""
        return embedding_input(L, self.embed_size)

    @torch.no_grad()
    def embed(self, L: torch.Tensor) -> torch.Tensor:
        """The classifier's vector for each image: L (B, 1, H, W) -> (B, embed_dim).

        The classifier runs on :meth:`embedding_input` (the gray image as RGB,
        resized and ImageNet-normalised), without gradients.
        """
        vector = self.embedding(self.embedding_input(L).to(L.dtype))
        if vector.shape != (L.shape[0], self.embed_dim):
            raise ValueError(f"the embedding returned shape {tuple(vector.shape)}, expected "
                             f"(B, embed_dim) = ({L.shape[0]}, {self.embed_dim}); "
                             "set embed_dim to its output size")
        return vector

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        self.check_input(L)
        features = self.encoder(L / L_SCALE - 1)  # (B, 256, H/8, W/8)
        if self.fusion:
            features = tile_and_concat(features, self.embed(L))  # (B, 256 + embed_dim, ...)
        return AB_SCALE * self.decoder(self.fuse(features))


@register("fusion")
def fusion(fusion: bool = True, embed_dim: int = 1000, embed_size: int = 299,
           pretrained: bool = False, tiny_embedding: bool = False,
           decoder: str = "koalarization") -> FusionColorizer:
    """The fusion colorizer: 6,573,794 trainable parameters with the Inception embedding.

    ``tiny_embedding=True`` uses :class:`TinyEmbedding` (any ``embed_dim``) instead of
    Inception v3; ``pretrained=True`` loads ImageNet weights into Inception v3.
    With ``fusion=False`` no classifier is built and both flags are ignored.
    """
    embedding = None
    if fusion:
        if tiny_embedding:
            embedding = TinyEmbedding(embed_dim)
        elif embed_dim != 1000:
            raise ValueError(f"Inception v3 gives 1000 outputs, not embed_dim={embed_dim}; "
                             "use tiny_embedding=True for other sizes")
        else:
            embedding = inception_embedding(pretrained)
    return FusionColorizer(embedding, embed_dim=embed_dim, fusion=fusion,
                           embed_size=embed_size, decoder=decoder)
