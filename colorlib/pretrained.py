"""One registry of named pretrained weights: where they come from and what they expect.

Every pretrained file the course uses is registered here once, with its URL,
its SHA-256 and the preprocessing its network was trained with.  :func:`fetch`
downloads a file into the torch hub cache (``$TORCH_HOME/hub/checkpoints``,
the folder torchvision uses too, so a file torchvision already downloaded is
reused), checks its hash after every download, and never touches the network
again once the file is there.

Example::

    from colorlib import pretrained

    w = pretrained.get("vgg16_imagenet")
    print(w.preprocessing, w.mean, w.std, w.input_size)
    state = pretrained.load_state_dict("vgg16_imagenet")   # downloads once, verified

Without a network (a cluster node, a train) :func:`fetch` raises a
:class:`WeightsError` that says which file to download, where to put it, its
SHA-256, and how to run the notebooks without it (quick mode, random weights).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlparse

import torch
from tqdm.auto import tqdm

from . import checkpoint
from .files import atomic_write

TIMEOUT_S = 30  # seconds without data before a download is given up
_CHUNK = 1 << 20  # 1 MiB


class WeightsError(RuntimeError):
    """Pretrained weights could not be fetched or failed their SHA-256 check."""


@dataclass(frozen=True)
class Weights:
    """A pretrained file and what its network expects.

    Attributes:
        name: registry name, e.g. ``"vgg16_imagenet"``.
        url: where to download it (``https://``, or ``file://`` for local copies).
        sha256: expected SHA-256, full (64 hex digits) or its first 8 or more digits.
        filename: name in the cache folder; default the last part of ``url``.
        description: what the weights are, where they come from.
        preprocessing: what the network expects as input, in words.
        mean, std: per-channel normalisation of the input, if any.
        input_size: the side length (pixels) the network was trained on, if fixed.
    """

    name: str
    url: str
    sha256: str
    filename: str = ""
    description: str = ""
    preprocessing: str = ""
    mean: tuple | None = None
    std: tuple | None = None
    input_size: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "sha256", checkpoint.check_sha256(self.sha256))
        if not self.filename:
            base = os.path.basename(urlparse(self.url).path)
            if not base:
                raise ValueError(f"cannot take a file name from the url {self.url!r}; "
                                 "pass filename=...")
            object.__setattr__(self, "filename", base)
        for field in ("mean", "std"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, tuple(float(v) for v in value))


_REGISTRY: dict[str, Weights] = {}
_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256


def register(weights: Weights) -> Weights:
    """Add ``weights`` to the registry and return it.

    Registering the same entry twice is allowed (re-running a notebook cell);
    registering a different entry under an existing name raises ValueError.
    """
    if not isinstance(weights, Weights):
        raise TypeError(f"register expects a Weights(...) entry, got {type(weights).__name__}")
    old = _REGISTRY.get(weights.name)
    if old is not None and old != weights:
        raise ValueError(f"pretrained weights {weights.name!r} are already registered with "
                         f"different contents ({old.url}); choose another name")
    _REGISTRY[weights.name] = weights
    return weights


def get(name: str) -> Weights:
    """The registered entry called ``name``; KeyError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no pretrained weights called {name!r}; known: "
                       f"{', '.join(available())}") from None


def available() -> list[str]:
    """Names of all registered weights, sorted."""
    return sorted(_REGISTRY)


def cache_dir() -> Path:
    """Folder for downloaded weights: ``torch.hub.get_dir() / "checkpoints"``.

    That is ``~/.cache/torch/hub/checkpoints`` unless ``TORCH_HOME`` is set
    (then ``$TORCH_HOME/hub/checkpoints``).  Not created here.
    """
    return Path(torch.hub.get_dir()) / "checkpoints"


def _offline(offline: bool | None) -> bool:
    if offline is not None:
        return bool(offline)
    return os.environ.get("COLORLIB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _how_to_get(w: Weights, reason: str) -> str:
    folder = cache_dir()
    return (
        f"could not download the pretrained weights {w.name!r}: {reason}. To use them, "
        f"download {w.url} (file {w.filename}) on a machine with internet access and put it "
        f"in the folder {folder} (as {folder / w.filename}); its SHA-256 must start with "
        f"{w.sha256}. To run without them, use quick mode (QUICK=True in the notebook's "
        "parameters cell, or the environment variable COLORLIB_QUICK=1), which uses random "
        "weights instead."
    )


def fetch(name: str, progress: bool = True, offline: bool | None = None) -> Path:
    """Path to the verified file of weights ``name``, downloading it if needed.

    A file already in :func:`cache_dir` is checked once per process (its SHA-256
    against the registry) and then returned.  Otherwise it is downloaded to a
    temporary file in the cache folder, hashed while it streams, and moved into
    place only if the hash matches.

    Args:
        name: a registered name (see :func:`available`).
        progress: show a download progress bar.
        offline: never use the network; default from ``COLORLIB_OFFLINE=1``.

    Raises:
        KeyError: unknown ``name``.
        WeightsError: the download failed or is impossible (offline), the
            downloaded file had the wrong hash (it is deleted), or the cached
            file has the wrong hash (it is kept; the message says what to do).
    """
    w = get(name)
    path = cache_dir() / w.filename
    if path.is_file():
        _verify_cached(w, path)
        return path
    if _offline(offline):
        raise WeightsError(_how_to_get(w, "offline mode (offline=True or COLORLIB_OFFLINE=1) "
                                          "never uses the network"))
    # the file appears under its name only once complete and verified
    with atomic_write(path, "wb") as out:
        actual = _download(w, out, progress)
        if not actual.startswith(w.sha256):
            raise WeightsError(
                f"the download of {w.name!r} from {w.url} has the wrong SHA-256: expected "
                f"{w.sha256}..., got {actual}. The downloaded file was deleted. The server may "
                "have sent an error page or a different version; try again later, or fetch "
                f"the file by hand and put it in {path.parent}."
            )
    _remember(path, actual)
    return path


def _download(w: Weights, out, progress: bool) -> str:
    """Stream ``w.url`` into the open file ``out``; return the SHA-256 of what arrived."""
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(w.url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=w.filename, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise WeightsError(_how_to_get(
                    w, f"the connection closed after {received} of {total} bytes"))
    except (urllib.error.URLError, OSError, HTTPException, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise WeightsError(_how_to_get(w, f"{type(e).__name__}: {reason}")) from e
    return digest.hexdigest()


def _verify_cached(w: Weights, path: Path) -> None:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    actual = _VERIFIED.get(key) or checkpoint.sha256sum(path)
    if not actual.startswith(w.sha256):
        raise WeightsError(
            f"the cached file {path} for {w.name!r} has SHA-256 {actual}, but it should start "
            f"with {w.sha256}: it is incomplete, corrupted or a different version. It was left "
            f"where it is; delete it (rm '{path}') and call fetch({w.name!r}) again to "
            f"re-download it from {w.url}, or replace it with a correct copy."
        )
    _VERIFIED[key] = actual


def _remember(path: Path, digest: str) -> None:
    st = path.stat()
    _VERIFIED[(str(path), st.st_mtime_ns, st.st_size)] = digest


def load_state_dict(name: str, map_location="cpu") -> dict:
    """Fetch weights ``name`` (see :func:`fetch`) and load them with ``weights_only=True``."""
    return checkpoint.load(fetch(name), map_location=map_location)


# --------------------------------------------------------------------------- the registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

register(Weights(
    name="vgg16_imagenet",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256="397923af",
    description="VGG16 trained on ImageNet-1k (torchvision VGG16_Weights.IMAGENET1K_V1); "
                "load into torchvision.models.vgg16(weights=None).",
    preprocessing="RGB in [0,1], resized to 256 and centre-cropped to 224, normalised with "
                  "ImageNet mean/std",
    mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224,
))

register(Weights(
    name="inception_v3_imagenet",
    url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    sha256="0cc3c7bd",
    description="Inception v3 trained on ImageNet-1k, ported from Google's release "
                "(torchvision Inception_V3_Weights.IMAGENET1K_V1); load into "
                "torchvision.models.inception_v3(weights=None, aux_logits=True, "
                "transform_input=True, init_weights=False).",
    preprocessing="RGB in [0,1], resized to 342 and centre-cropped to 299, normalised with "
                  "ImageNet mean/std (transform_input=True maps that to the [-1,1] range the "
                  "original weights expect)",
    mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=299,
))

register(Weights(
    name="zhang_eccv16",
    url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
    sha256="9b330a0b",
    description="Zhang, Isola & Efros, Colorful Image Colorization (ECCV 2016): the authors' "
                "PyTorch release of the classification colorizer.",
    preprocessing="L channel normalised as (L - 50) / 100; output ab x 110",
    input_size=256,
))


__all__ = [
    "TIMEOUT_S", "Weights", "WeightsError", "available", "cache_dir", "fetch", "get",
    "load_state_dict", "register",
]
