"""Training loops: :func:`fit` (supervised) and the history they return."""

from .common import History, choose_precision
from .supervised import evaluate, fit

__all__ = ["History", "choose_precision", "evaluate", "fit"]
