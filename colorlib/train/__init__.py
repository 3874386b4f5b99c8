"""Training loops: :func:`fit` (supervised), :func:`fit_gan` (adversarial)."""

from .common import History, choose_precision
from .gan import GANStep, fit_gan, gan_loss, gan_step
from .supervised import evaluate, fit

__all__ = ["GANStep", "History", "choose_precision", "evaluate", "fit", "fit_gan", "gan_loss",
           "gan_step"]
