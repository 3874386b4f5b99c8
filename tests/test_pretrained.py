"""colorlib.pretrained: registry, verified downloads (file:// only), clear offline errors."""

import hashlib
import urllib.request

import pytest
import torch
import torchvision

from colorlib import pretrained
from colorlib.pretrained import Weights, WeightsError


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("COLORLIB_OFFLINE", raising=False)
    cache = pretrained.cache_dir()
    assert cache == tmp_path / "torch_home" / "hub" / "checkpoints"
    return cache


@pytest.fixture
def source(tmp_path):
    """A small state dict saved outside the cache, and its SHA-256 (computed independently)."""
    path = tmp_path / "server" / "toy-weights.pth"
    path.parent.mkdir()
    state = {"conv.weight": torch.arange(24.0).reshape(2, 3, 2, 2), "conv.bias": torch.ones(2)}
    torch.save(state, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), state


@pytest.fixture
def entry():
    """Register test entries under fresh names; remove them afterwards."""
    added = []

    def add(name, url, sha256, **kwargs):
        w = pretrained.register(Weights(name=name, url=url, sha256=sha256, **kwargs))
        added.append(name)
        return w

    yield add
    for name in added:
        pretrained._REGISTRY.pop(name, None)


def test_fetch_downloads_verifies_and_then_uses_the_cache(torch_home, source, entry, capsys):
    src, digest, _ = source
    w = entry("toy", src.as_uri(), digest[:12])
    assert w.filename == "toy-weights.pth"
    path = pretrained.fetch("toy", progress=True)
    assert path == torch_home / "toy-weights.pth"
    assert path.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in torch_home.iterdir()) == ["toy-weights.pth"]  # no temp left
    src.unlink()  # the "server" is gone: the cached copy must be enough
    assert pretrained.fetch("toy", progress=False) == path


def test_fetch_checks_a_cached_file_once_per_process(torch_home, source, entry, monkeypatch):
    src, digest, _ = source
    entry("toy", src.as_uri(), digest)
    pretrained.fetch("toy", progress=False)
    calls = []
    monkeypatch.setattr(pretrained.checkpoint, "sha256sum",
                        lambda p: calls.append(p) or "0" * 64)
    pretrained.fetch("toy", progress=False)  # verified already: no hashing
    assert calls == []


def test_wrong_hash_download_is_deleted(torch_home, source, entry):
    src, digest, _ = source
    wrong = ("f" if digest[0] != "f" else "e") + digest[1:8]
    entry("toy", src.as_uri(), wrong)
    with pytest.raises(WeightsError, match="wrong SHA-256") as info:
        pretrained.fetch("toy", progress=False)
    assert wrong in str(info.value) and digest in str(info.value)
    assert "deleted" in str(info.value)
    assert list(torch_home.iterdir()) == []


@pytest.mark.parametrize("url", ["missing", "http://127.0.0.1:9/toy-weights.pth"])
def test_unreachable_url_says_what_to_fetch_and_where(torch_home, tmp_path, entry, url):
    if url == "missing":
        url = (tmp_path / "nothing-here" / "toy-weights.pth").as_uri()
    entry("toy", url, "12345678abcdef")
    with pytest.raises(WeightsError) as info:
        pretrained.fetch("toy", progress=False)
    message = str(info.value)
    for needed in ("toy-weights.pth", url, str(torch_home), "12345678abcdef", "COLORLIB_QUICK"):
        assert needed in message
    assert not torch_home.exists() or list(torch_home.iterdir()) == []  # no partial file


def test_offline_never_touches_the_network(torch_home, source, entry, monkeypatch):
    src, digest, _ = source
    entry("toy", src.as_uri(), digest)

    def no_network(*args, **kwargs):
        raise AssertionError("urlopen must not be called offline")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(WeightsError, match="offline") as info:
        pretrained.fetch("toy", offline=True)
    assert "COLORLIB_QUICK" in str(info.value)
    monkeypatch.setenv("COLORLIB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="offline"):
        pretrained.fetch("toy")
    # a file put in the cache by hand is used even offline
    torch_home.mkdir(parents=True, exist_ok=True)
    (torch_home / "toy-weights.pth").write_bytes(src.read_bytes())
    assert pretrained.fetch("toy") == torch_home / "toy-weights.pth"


def test_corrupted_cached_file_is_reported_and_kept(torch_home, source, entry):
    src, digest, _ = source
    entry("toy", src.as_uri(), digest)
    path = pretrained.fetch("toy", progress=False)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="delete it") as info:
        pretrained.fetch("toy", progress=False)
    assert str(path) in str(info.value) and digest[:8] in str(info.value)
    assert path.read_bytes() == bytes(data)  # the user's file is not deleted


def test_load_state_dict_round_trip(torch_home, source, entry):
    src, digest, state = source
    entry("toy", src.as_uri(), digest)
    loaded = pretrained.load_state_dict("toy")
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_registry_rules(entry):
    assert {"vgg16_imagenet", "inception_v3_imagenet", "zhang_eccv16"} <= set(
        pretrained.available())
    first = entry("toy", "file:///tmp/a/toy.pth", "0123456789abcdef")
    assert pretrained.get("toy") is first
    assert entry("toy", "file:///tmp/a/toy.pth", "0123456789abcdef") == first  # same: fine
    with pytest.raises(ValueError, match="already registered"):
        pretrained.register(Weights("toy", "file:///tmp/b/toy.pth", "0123456789abcdef"))
    with pytest.raises(KeyError, match="vgg16_imagenet"):
        pretrained.get("no_such_weights")
    with pytest.raises(ValueError, match="hexadecimal"):
        Weights("bad", "https://example.org/x.pth", "1234")
    assert Weights("upper", "https://example.org/x.pth", "ABCDEF12").sha256 == "abcdef12"


def test_torchvision_entries_match_the_installed_torchvision():
    from torchvision.models import Inception_V3_Weights, VGG16_Weights

    for name, tv in [("vgg16_imagenet", VGG16_Weights.IMAGENET1K_V1),
                     ("inception_v3_imagenet", Inception_V3_Weights.IMAGENET1K_V1)]:
        w = pretrained.get(name)
        assert w.url == tv.url, torchvision.__version__
        # torchvision names its files <model>-<first 8 hex digits of the SHA-256>.pth
        assert tv.url.rsplit("-", 1)[1].startswith(w.sha256)
        transform = tv.transforms()
        assert [w.input_size] == list(transform.crop_size)
        assert w.mean == pytest.approx(tuple(transform.mean))
        assert w.std == pytest.approx(tuple(transform.std))


def test_zhang_entry_describes_its_preprocessing():
    w = pretrained.get("zhang_eccv16")
    assert w.filename == "colorization_release_v2-9b330a0b.pth" and w.sha256 == "9b330a0b"
    assert "(L - 50) / 100" in w.preprocessing and "110" in w.preprocessing
