"""The Zhang et al. (ECCV 2016) colorizer, its released-weights loader, and the losses.

The loader is tested offline: a network laid out like the authors' release (their
key names, built here from the published architecture) gets random weights, its
state dict is saved and loaded by position into ZhangColorizer, and both must then
compute the same colours.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorlib import losses, quantize
from colorlib.models import build, count_parameters
from colorlib.models import zhang as zhang_module
from colorlib.models.zhang import ZhangColorizer, load_state_dict_release
from colorlib.quantize import ABBins

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ZhangColorizer().eval()


def _release_layout(q: int) -> nn.Module:
    """A network named like the release (model1 ... model8, model_out), from the paper."""

    def block(c_in, c_out, n, stride=1, dilation=1, bn=True):
        layers = []
        for i in range(n):
            layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=dilation,
                                 dilation=dilation, stride=stride if i == n - 1 else 1),
                       nn.ReLU(True)]
        return nn.Sequential(*layers, nn.BatchNorm2d(c_out))

    class Release(nn.Module):
        def __init__(self):
            super().__init__()
            self.model1 = block(1, 64, 2, stride=2)
            self.model2 = block(64, 128, 2, stride=2)
            self.model3 = block(128, 256, 3, stride=2)
            self.model4 = block(256, 512, 3)
            self.model5 = block(512, 512, 3, dilation=2)
            self.model6 = block(512, 512, 3, dilation=2)
            self.model7 = block(512, 512, 3)
            self.model8 = nn.Sequential(
                nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1), nn.ReLU(True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True),
                nn.Conv2d(256, q, 1),
            )
            self.model_out = nn.Conv2d(q, 2, 1, bias=False)

        def forward(self, L):
            x = (L - 50) / 100
            for i in range(1, 9):
                x = getattr(self, f"model{i}")(x)
            ab = self.model_out(torch.softmax(x, dim=1))
            return F.interpolate(ab, scale_factor=4, mode="bilinear") * 110

    return Release()


def _fake_release(q=313, seed=1):
    """(state dict laid out like the release, the module, its bin centres)."""
    torch.manual_seed(seed)
    net = _release_layout(q)
    cells = torch.stack(torch.meshgrid(torch.arange(-11, 12), torch.arange(-11, 12),
                                       indexing="ij"), -1).reshape(-1, 2)
    centers = cells[torch.randperm(len(cells))[:q]].float() * 10
    with torch.no_grad():
        net.model_out.weight.copy_((centers.T / 110).reshape(2, q, 1, 1))
        for m in net.modules():  # non-trivial BatchNorm statistics
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return net.eval(), centers


# --------------------------------------------------------------------------- architecture


def test_parameter_count_and_registry(model):
    assert count_parameters(model) == 32_236_011  # the published ECCV16 network, Q = 313
    built = build("zhang", T=0.5)
    assert isinstance(built, ZhangColorizer) and built.T == 0.5 and built.num_bins == 313
    assert built.config == {"name": "zhang", "kwargs": {"T": 0.5}}


def test_blocks_follow_the_paper(model):
    blocks = [model.conv1, model.conv2, model.conv3, model.conv4, model.conv5, model.conv6,
              model.conv7]
    convs = [[m for m in b if isinstance(m, nn.Conv2d)] for b in blocks]
    assert [len(c) for c in convs] == [2, 2, 3, 3, 3, 3, 3]
    assert [c[-1].out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512]
    assert [c[-1].stride[0] for c in convs] == [2, 2, 2, 1, 1, 1, 1]
    assert [c[0].dilation[0] for c in convs] == [1, 1, 1, 1, 2, 2, 1]
    assert all(isinstance(b[-1], nn.BatchNorm2d) for b in blocks)
    up = model.conv8[0]
    assert isinstance(up, nn.ConvTranspose2d) and up.kernel_size == (4, 4) and up.stride == (2, 2)
    assert not isinstance(model.conv8[-1], nn.BatchNorm2d)
    assert model.decode_head.bias is None and not model.decode_head.weight.requires_grad


def test_shapes_at_64(model):
    L = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        logits = model(L)
        ab = model.predict(L)
        head = model.decode_head_ab(L)
    assert logits.shape == (1, 313, 16, 16)
    assert ab.shape == head.shape == (1, 2, 64, 64)
    lo = model.bins.centers.min(0).values.view(1, 2, 1, 1) - 1e-3
    hi = model.bins.centers.max(0).values.view(1, 2, 1, 1) + 1e-3
    assert torch.all(ab >= lo) and torch.all(ab <= hi)
    rgb = model.colorize(torch.rand(1, 1, 30, 36))  # any size: padded to the stride
    assert rgb.shape == (1, 3, 30, 36) and rgb.min() >= 0 and rgb.max() <= 1


def test_predict_is_the_annealed_mean_and_head_the_mean(model):
    L = torch.rand(1, 1, 32, 32) * 100
    with torch.no_grad():
        logits = model(L)
        expected = quantize.annealed_mean(logits, model.bins, T=0.38)
        mean = quantize.annealed_mean(logits, model.bins, T=1.0)
        up = dict(size=(32, 32), mode="bilinear", align_corners=False)
        assert torch.allclose(model.predict(L), F.interpolate(expected, **up), atol=1e-4)
        assert torch.allclose(model.decode_head_ab(L), F.interpolate(mean, **up), atol=1e-3)
    head = model.decode_head.weight[:, :, 0, 0].T * 110
    assert torch.allclose(head, model.bins.centers, atol=1e-4)


def test_bins_argument_and_bins_travel_with_the_state_dict():
    g = torch.Generator().manual_seed(7)
    bins = ABBins.from_data(torch.randn(4000, 2, generator=g) * 15 + 10)  # a small, custom Q
    m = ZhangColorizer(bins=bins)
    assert m.num_bins == len(bins) and m.classifier.out_channels == len(bins)
    assert torch.equal(m.bins.centers, bins.centers)
    # a checkpoint only holds the state dict and num_bins: the centres come back from it
    restored = ZhangColorizer(num_bins=len(bins))
    assert not torch.equal(restored.bins.centers, bins.centers)
    restored.load_state_dict(m.state_dict())
    assert torch.equal(restored.bins.centers, bins.centers)
    with pytest.raises(ValueError, match="num_bins"):
        ZhangColorizer(num_bins=300, bins=bins)
    few = ZhangColorizer(num_bins=9)  # fewer than the gamut's: the 9 nearest grey
    assert few.bins.centers.abs().max() <= 10


# --------------------------------------------------------------------------- released weights


def test_release_loads_by_position(model, tmp_path):
    net, centers = _fake_release()
    keys = list(net.state_dict())
    assert keys[0] == "model1.0.weight" and "model8.6.bias" in keys
    assert keys[-1] == "model_out.weight"
    path = tmp_path / "release.pth"
    torch.save(net.state_dict(), path)
    state = torch.load(path, weights_only=True)
    loaded = load_state_dict_release(ZhangColorizer(), state).eval()
    head = loaded.decode_head.weight[:, :, 0, 0].T * 110
    assert torch.allclose(loaded.bins.centers, head, atol=1e-4)
    assert torch.equal(loaded.bins.centers, centers)  # the 313 centres come back exactly
    L = torch.rand(1, 1, 32, 32) * 100
    with torch.no_grad():
        theirs, ours = net(L), loaded.decode_head_ab(L)
    assert theirs.abs().max() > 1  # a real test: colours are not all zero
    assert torch.allclose(ours, theirs, atol=1e-3)


def test_release_loader_refuses_mismatches():
    net, _ = _fake_release()
    state = net.state_dict()
    small = ZhangColorizer(bins=ABBins.from_gamut())  # Q = 261, not the file's 313
    with pytest.raises(ValueError, match="tensor #"):
        load_state_dict_release(small, state)
    state.pop("model_out.weight")
    with pytest.raises(ValueError, match="tensors"):
        load_state_dict_release(ZhangColorizer(), state)


def test_load_released_weights_goes_through_the_registry(monkeypatch):
    net, centers = _fake_release(seed=2)
    calls = []

    def fake_load_state_dict(name, map_location="cpu"):
        calls.append(name)
        return net.state_dict()

    monkeypatch.setattr("colorlib.pretrained.load_state_dict", fake_load_state_dict)
    loaded = zhang_module.load_released_weights()
    assert calls == ["zhang_eccv16"]
    assert not loaded.training and torch.equal(loaded.bins.centers, centers)


# --------------------------------------------------------------------------- losses


def test_rebalanced_cross_entropy_manual():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 7, 3, 4, generator=g)
    z = torch.softmax(torch.randn(2, 7, 3, 4, generator=g) * 3, 1)
    w = torch.rand(2, 3, 4, generator=g) + 0.5
    lg, zn, wn = logits.double().numpy(), z.double().numpy(), w.double().numpy()
    log_p = lg - np.log(np.exp(lg).sum(1, keepdims=True))
    expected = np.mean(-wn * (zn * log_p).sum(1))
    assert losses.rebalanced_cross_entropy(logits, z, w).item() == pytest.approx(expected, rel=1e-5)
    plain = F.cross_entropy(logits, z)  # PyTorch's soft-target cross-entropy
    unweighted = losses.rebalanced_cross_entropy(logits, z)
    assert unweighted.item() == pytest.approx(plain.item(), rel=1e-5)
    ones = losses.rebalanced_cross_entropy(logits, z, torch.ones(2, 3, 4))
    assert ones.item() == pytest.approx(plain.item(), rel=1e-5)


def test_rebalanced_cross_entropy_gradient():
    # d loss / d logits = w (softmax - z) / pixels, for targets summing to 1
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(1, 5, 2, 2, generator=g, dtype=torch.float64).requires_grad_(True)
    z = torch.softmax(torch.randn(1, 5, 2, 2, generator=g, dtype=torch.float64), 1)
    w = torch.rand(1, 2, 2, generator=g, dtype=torch.float64) + 0.5
    losses.rebalanced_cross_entropy(logits, z, w).backward()
    expected = w[:, None] * (torch.softmax(logits.detach(), 1) - z) / 4
    assert torch.allclose(logits.grad, expected.float().double(), atol=1e-6)


def test_rebalanced_cross_entropy_rejects_bad_shapes():
    with pytest.raises(ValueError, match="logits' shape"):
        losses.rebalanced_cross_entropy(torch.zeros(1, 5, 4, 4), torch.zeros(1, 5, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        losses.rebalanced_cross_entropy(torch.zeros(1, 5, 4, 4), torch.zeros(1, 5, 4, 4),
                                        torch.ones(1, 1, 4, 4))


def test_l2_ab_is_half_the_squared_distance():
    g = torch.Generator().manual_seed(5)
    pred, target = torch.randn(2, 2, 3, 3, generator=g) * 30, torch.randn(2, 2, 3, 3, generator=g)
    d = (pred - target).double().numpy()
    expected = np.mean(0.5 * (d**2).sum(1))  # 1/2 ||y - y_hat||^2 per pixel, averaged
    assert losses.l2_ab(pred, target).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="shape"):
        losses.l2_ab(pred, target[..., :2])


@pytest.mark.slow
def test_zhang_training_step_lowers_the_loss():
    """Soft targets, rebalancing and the loss fit together: one Adam step helps."""
    torch.manual_seed(6)
    bins = ABBins.from_gamut()
    m = ZhangColorizer(bins=bins)
    L = torch.rand(1, 1, 32, 32) * 100
    ab = torch.randn(1, 2, 32, 32) * 20
    small = F.avg_pool2d(ab, 4)  # the logits' resolution, H / 4
    z = quantize.soft_encode(small, bins)
    w = quantize.pixel_weights(z, quantize.rebalance_weights(quantize.empirical_prior(ab, bins)))
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-4)
    loss = losses.rebalanced_cross_entropy(m(L), z, w)
    loss.backward()
    opt.step()
    assert m.decode_head.weight.grad is None  # the decoder stays fixed
    assert losses.rebalanced_cross_entropy(m(L), z, w).item() < loss.item()
