"""Exercise checks: ``colorlib.checks.<name>(your_function)``.

Each compares your code with colorlib's on random inputs and prints a pass
message, or raises :class:`CheckFailed` with a specific hint.
"""

from .autoencoder import conv_parameters, make_encoder
from .color import rgb_to_gray, rgb_to_lab
from .core import CheckFailed
from .evaluation import psnr_per_image, wilson_interval
from .fusion import embedding_input, fusion_layer
from .gan import cgan_forward, patchgan
from .hypercolumns import build_hypercolumns, reduce_then_upsample
from .mnist import train_one_epoch
from .wallner import alpha_network
from .zhang import annealed_mean, rebalance_weights, soft_encode

__all__ = [
    "CheckFailed",
    "alpha_network",
    "annealed_mean",
    "build_hypercolumns",
    "cgan_forward",
    "conv_parameters",
    "embedding_input",
    "fusion_layer",
    "make_encoder",
    "patchgan",
    "psnr_per_image",
    "rebalance_weights",
    "reduce_then_upsample",
    "rgb_to_gray",
    "rgb_to_lab",
    "soft_encode",
    "train_one_epoch",
    "wilson_interval",
]
