"""Course models, one family per file, and a registry to rebuild them by name.

``build("tiny", width=16)`` returns a fresh model; checkpoints store the name and
keyword arguments so ``python -m colorlib colorize`` can rebuild any course model.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from .base import Colorizer, count_parameters

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    """Decorator: make a builder function available as ``build(name, **kwargs)``."""

    def wrap(fn):
        _BUILDERS[name] = fn
        fn.model_name = name
        return fn

    return wrap


def available() -> list[str]:
    """Names accepted by :func:`build`."""
    _import_all()
    return sorted(_BUILDERS)


def build(name: str, **kwargs) -> nn.Module:
    """Build the course model called ``name`` with ``kwargs``; records both on the model."""
    model = _builder(name)(**kwargs)
    model.config = {"name": name, "kwargs": dict(kwargs)}
    return model


def arguments(name: str) -> list[str]:
    """The names of the keyword arguments ``build(name, ...)`` accepts, in order."""
    import inspect

    return list(inspect.signature(_builder(name)).parameters)


def _builder(name: str) -> Callable[..., nn.Module]:
    _import_all()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name]


def _import_all() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["Colorizer", "arguments", "available", "build", "count_parameters", "register"]
