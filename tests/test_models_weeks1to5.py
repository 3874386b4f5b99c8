"""Models of weeks 1-5: MNIST CNN, Wallner alpha/beta, fusion, autoencoder, hypercolumns.

Parameter counts come from the source reports and from the published networks
(see /work/shared/seeds/README.md); they are not read back from the code.
"""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from colorlib import color, models
from colorlib.models import build, count_parameters
from colorlib.models import fusion as fusion_module
from colorlib.models.autoencoder import Autoencoder
from colorlib.models.fusion import FusionColorizer, InceptionEmbedding, TinyEmbedding
from colorlib.models.hypercolumns import (
    HypercolumnColorizer,
    efficient_from_naive,
    gather_pixels,
)
from colorlib.models.mnist import MnistCNN
from colorlib.models.wallner import AlphaColorizer, BetaColorizer

# ---------------------------------------------------------------------------
# Week 1-2: MNIST
# ---------------------------------------------------------------------------


def test_registry_lists_each_builders_arguments():
    assert "tiny" in models.available() and "hypercolumns" in models.available()
    assert "width" in models.arguments("tiny")
    assert {"efficient", "tile_rows"} <= set(models.arguments("hypercolumns"))
    with pytest.raises(ValueError, match="unknown model 'nosuch'; choose one of .*tiny"):
        models.arguments("nosuch")


def test_mnist_cnn_shape_and_parameter_count():
    torch.manual_seed(0)
    model = build("mnist_cnn")
    assert isinstance(model, MnistCNN)
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    convs = 9 * (1 * 32 + 32 * 32 + 32 * 64 + 64 * 64)  # bias-free, BatchNorm follows
    batchnorms = 2 * (32 + 32 + 64 + 64)
    dense = (64 * 7 * 7 * 128 + 128) + (128 * 10 + 10)
    assert count_parameters(model) == convs + batchnorms + dense == 468_010


def test_mnist_cnn_rejects_images_without_channel():
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        MnistCNN()(torch.rand(4, 28, 28))


def test_mnist_cnn_learns_a_toy_digit_task():
    # Ten classes: a bright 6x6 square at one of ten positions, plus noise.
    g = torch.Generator().manual_seed(0)

    def make(n):
        labels = torch.randint(0, 10, (n,), generator=g)
        x = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
        for i, k in enumerate(labels.tolist()):
            r, c = 2 + 12 * (k // 5), 1 + 5 * (k % 5)
            x[i, 0, r:r + 6, c:c + 6] += 0.7
        return x, labels

    torch.manual_seed(0)
    model = MnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = make(64)
    for _ in range(3):
        for i in range(0, 64, 16):
            loss = F.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    x_test, y_test = make(200)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy > 0.9  # chance is 0.1


# ---------------------------------------------------------------------------
# Week 3-4: Wallner alpha and beta
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, cls, count", [("wallner_alpha", AlphaColorizer, 32_202),
                                              ("wallner_beta", BetaColorizer, 3_892_194)])
def test_wallner_parameter_counts_and_shapes(name, cls, count):
    torch.manual_seed(0)
    model = build(name)
    assert isinstance(model, cls) and model.space == "lab" and model.stride == 8
    assert count_parameters(model) == count
    ab = model(100 * torch.rand(2, 1, 64, 64))
    assert ab.shape == (2, 2, 64, 64)
    assert ab.abs().max() <= 128


def test_wallner_feeds_raw_L_and_scales_tanh_by_128():
    torch.manual_seed(0)
    model = AlphaColorizer()
    seen = {}
    first_conv = model.net[0]
    first_conv.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    last_conv = [m for m in model.net if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        last_conv.bias.copy_(torch.tensor([50.0, -50.0]))  # saturate the tanh
    L = 100 * torch.rand(1, 1, 32, 32)
    ab = model(L)
    assert torch.equal(seen["x"], L)  # no normalisation, like the original
    assert torch.allclose(ab[:, 0], torch.full_like(ab[:, 0], 128.0))
    assert torch.allclose(ab[:, 1], torch.full_like(ab[:, 1], -128.0))


def test_wallner_size_checks_and_colorize():
    model = AlphaColorizer()
    with pytest.raises(ValueError, match="divisible by 8"):
        model(100 * torch.rand(1, 1, 60, 64))
    with pytest.raises(ValueError, match=r"AlphaColorizer expects L of shape \(B, 1, H, W\), "
                                         r"got \(1, 3, 64, 64\)"):
        model(100 * torch.rand(1, 3, 64, 64))
    rgb = model.colorize(torch.rand(1, 1, 50, 70))  # colorize pads to a multiple of 8
    assert rgb.shape == (1, 3, 50, 70) and 0 <= rgb.min() and rgb.max() <= 1


# ---------------------------------------------------------------------------
# Week 3-4: Deep Koalarization / Wallner full (fusion)
# ---------------------------------------------------------------------------


def tiny_fusion(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("embed_size", 32)
    dim = kwargs.pop("embed_dim", 1000)
    return FusionColorizer(TinyEmbedding(dim), embed_dim=dim, **kwargs)


def test_fusion_trainable_parameter_counts():
    model = tiny_fusion()
    assert count_parameters(model, trainable_only=True) == 6_573_794
    assert count_parameters(model) == 6_573_794 + count_parameters(model.embedding)
    assert count_parameters(tiny_fusion(embed_dim=1001), trainable_only=True) == 6_574_050
    assert count_parameters(tiny_fusion(decoder="wallner"), trainable_only=True) == 6_541_202
    # the ablation loses the 1000 x 256 weights that read the embedding in the 1x1 conv
    ablation = FusionColorizer(fusion=False)
    assert count_parameters(ablation) == 6_573_794 - 1000 * 256 == 6_317_794


def test_fusion_output_shape_and_range():
    model = build("fusion", tiny_embedding=True, embed_size=32)
    assert model.space == "lab" and model.stride == 8
    ab = model(100 * torch.rand(2, 1, 64, 64))
    assert ab.shape == (2, 2, 64, 64) and ab.abs().max() <= 127


def test_fusion_embedding_stays_frozen_through_an_optimizer_step():
    model = tiny_fusion()
    assert not any(p.requires_grad for p in model.embedding.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    loss = model(100 * torch.rand(2, 1, 32, 32)).pow(2).mean()
    loss.backward()
    assert all(p.grad is None for p in model.embedding.parameters())
    assert model.encoder[0].weight.grad is not None
    opt.step()
    after = model.state_dict()
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed != name.startswith("embedding."), name


def test_fusion_embedding_stays_in_eval_mode():
    model = tiny_fusion().train()
    assert model.training and model.encoder.training
    assert not any(m.training for m in model.embedding.modules())
    model.eval().train(True)
    assert not model.embedding.training


def test_fusion_embedding_sees_the_gray_image_resized_and_normalised():
    seen = {}

    class Recorder(nn.Module):
        def forward(self, rgb):
            seen["rgb"] = rgb
            return torch.full((rgb.shape[0], 5), 0.2)

    model = FusionColorizer(Recorder(), embed_dim=5, embed_size=48)
    gray = torch.rand(2, 1, 32, 32)
    L, _ = color.split(gray.expand(-1, 3, -1, -1), "lab")
    model(L)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    rgb = seen["rgb"] * std + mean
    expected = F.interpolate(gray, size=(48, 48), mode="bilinear", antialias=True)
    assert rgb.shape == (2, 3, 48, 48)
    assert torch.allclose(rgb, expected.expand(-1, 3, -1, -1), atol=2e-3)


def test_fusion_output_depends_on_the_embedding_vector():
    class OneHot(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, rgb):
            return F.one_hot(torch.full((rgb.shape[0],), self.k), 1000).float()

    torch.manual_seed(0)
    model = FusionColorizer(OneHot(3), embed_size=16)
    L = 100 * torch.rand(1, 1, 32, 32)
    first = model(L)
    model.embedding = OneHot(700)
    assert (model(L) - first).abs().max() > 1e-4


def test_fusion_without_fusion_never_builds_or_calls_an_embedding(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the embedding must not be built when fusion=False")

    monkeypatch.setattr(fusion_module, "inception_embedding", forbidden)
    model = build("fusion", fusion=False)
    assert model.embedding is None
    assert model.fuse[0].in_channels == 256
    assert model(100 * torch.rand(1, 1, 32, 32)).shape == (1, 2, 32, 32)
    with pytest.raises(ValueError, match="embedding=None"):
        FusionColorizer(TinyEmbedding(1000), fusion=False)


def test_fusion_rejects_bad_settings():
    with pytest.raises(ValueError, match="at least 75"):
        FusionColorizer(InceptionEmbedding(nn.Identity()), embed_size=32)
    with pytest.raises(ValueError, match="embed_dim"):
        FusionColorizer(TinyEmbedding(10), embed_dim=1000, embed_size=32)(
            100 * torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="tiny_embedding"):
        build("fusion", embed_dim=64)
    with pytest.raises(ValueError, match="unknown decoder"):
        tiny_fusion(decoder="unet")
    model = tiny_fusion()
    with pytest.raises(ValueError, match=r"FusionColorizer expects L of shape \(B, 1, H, W\)"):
        model(100 * torch.rand(1, 2, 32, 32))
    with pytest.raises(ValueError, match="FusionColorizer needs H and W divisible by 8, got 36x32"):
        model(100 * torch.rand(1, 1, 36, 32))


def test_fusion_with_the_default_inception_embedding():
    torch.manual_seed(0)
    model = build("fusion", embed_size=75)
    assert isinstance(model.embedding.net, torchvision.models.Inception3)
    assert count_parameters(model, trainable_only=True) == 6_573_794
    assert count_parameters(model.embedding) > 20_000_000  # frozen, not counted above
    L = 100 * torch.rand(1, 1, 32, 32)
    assert torch.allclose(model.embed(L).sum(1), torch.ones(1))  # softmax probabilities
    assert model(L).shape == (1, 2, 32, 32)


# ---------------------------------------------------------------------------
# Week 4: autoencoder
# ---------------------------------------------------------------------------


def test_autoencoder_parameter_counts_match_the_report():
    model = build("autoencoder")
    assert count_parameters(model.encoder) == 5_744_640
    assert count_parameters(model.decoder) == 8_112_771
    assert count_parameters(model) == 13_857_411


@pytest.mark.parametrize("size, convs", [(32, [64, 128, 256]), (64, [64, 128, 256, 512])])
def test_autoencoder_shapes(size, convs):
    torch.manual_seed(0)
    model = Autoencoder(image_size=size)
    assert [m.out_channels for m in model.encoder.modules() if isinstance(m, nn.Conv2d)] == convs
    gray = torch.rand(2, 1, size, size)
    assert model.encoder(gray).shape == (2, 512)
    rgb = model(gray)
    assert rgb.shape == (2, 3, size, size) and 0 <= rgb.min() and rgb.max() <= 1


@pytest.mark.parametrize("latent", [128, 512, 2048])
def test_autoencoder_latent_sizes(latent):
    model = build("autoencoder", latent_dim=latent)
    # both dense layers grow with the latent size: 8192 weights + 1 bias in, 8192 out
    assert count_parameters(model) == 13_857_411 + (latent - 512) * (8192 + 1 + 8192)
    assert model.encoder(torch.rand(1, 1, 64, 64)).shape == (1, latent)


def test_autoencoder_rejects_other_sizes():
    model = Autoencoder(image_size=64)
    with pytest.raises(ValueError, match="64, 64"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="64, 64"):
        model.colorize(torch.rand(1, 1, 100, 100))
    assert model.colorize(torch.rand(1, 1, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="power of two"):
        Autoencoder(image_size=48)


def test_autoencoder_summary_reads_like_the_report():
    text = Autoencoder().summary()
    for expected in ["5,744,640", "8,112,771", "13,857,411", "4,194,816", "(None, 512, 4, 4)",
                     "latent_vector", "decoder_output", "(None, 3, 64, 64)"]:
        assert expected in text


# ---------------------------------------------------------------------------
# Week 5: hypercolumns
# ---------------------------------------------------------------------------


def kaiming_vgg(model):
    """Re-initialise the VGG like torchvision does, so activations are not tiny."""
    torch.manual_seed(1)
    for m in model.vgg:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def test_vgg_blocks_give_960_hypercolumn_channels():
    torch.manual_seed(0)
    model = build("hypercolumns")
    assert model.space == "yuv" and model.stride == 8
    Y = torch.rand(1, 1, 64, 64)
    features = model.block_features(Y)
    assert [f.shape[1] for f in features] == [64, 128, 256, 512]
    assert [f.shape[-1] for f in features] == [64, 32, 16, 8]
    assert model.hypercolumns(Y).shape == (1, 960, 64, 64)


def test_vgg_layers_match_torchvision_vgg16():
    torch.manual_seed(0)
    model = HypercolumnColorizer()
    reference = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])[:23]
    ref_state = reference.state_dict()
    assert {k: v.shape for k, v in model.vgg.state_dict().items()} == {
        k: v.shape for k, v in ref_state.items()}
    model.vgg.load_state_dict(ref_state)
    Y = torch.rand(1, 1, 32, 32)
    x = (Y.expand(-1, 3, -1, -1) - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / \
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        relu4_3, relu2_2 = reference(x), reference[:9](x)
    features = model.block_features(Y)
    assert torch.allclose(features[3], relu4_3, atol=1e-6)
    assert torch.allclose(features[1], relu2_2, atol=1e-6)


def test_efficient_hypercolumns_equal_the_naive_ones():
    torch.manual_seed(0)
    naive = kaiming_vgg(HypercolumnColorizer(efficient=False))
    with torch.no_grad():
        naive.reduce.bias.uniform_(-0.5, 0.5)
        naive.head[-1].weight.mul_(20)  # outputs well inside the tanh, not all near 0
    fast = efficient_from_naive(naive)
    assert fast.efficient and len(fast.reduce) == 4
    assert count_parameters(fast, True) == count_parameters(naive, True) == 197_954
    Y = torch.rand(2, 1, 64, 64)
    reduced = naive.reduced(Y)
    assert reduced.abs().max() > 0.5  # a meaningful scale for the 1e-4 tolerance
    assert torch.allclose(fast.reduced(Y), reduced, atol=1e-4)
    uv = naive(Y)
    assert uv.std() > 1e-2
    assert torch.allclose(fast(Y), uv, atol=1e-4)
    with pytest.raises(ValueError, match="already efficient"):
        efficient_from_naive(fast)


def test_hypercolumn_vgg_is_frozen_and_in_eval_mode():
    torch.manual_seed(0)
    model = HypercolumnColorizer(efficient=True).train()
    assert not model.vgg.training and model.head.training
    assert not any(p.requires_grad for p in model.vgg.parameters())
    model(torch.rand(1, 1, 32, 32)).pow(2).mean().backward()
    assert all(p.grad is None for p in model.vgg.parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def test_hypercolumn_output_shape_and_uv_range():
    torch.manual_seed(0)
    model = HypercolumnColorizer()
    uv = model(torch.rand(2, 1, 64, 64))
    assert uv.shape == (2, 2, 64, 64)
    with torch.no_grad():
        model.head[-1].bias.fill_(100.0)  # saturate the tanh: the largest U and V
    uv = model(torch.rand(1, 1, 16, 16))
    assert torch.allclose(uv[:, 0], torch.full_like(uv[:, 0], 0.436))
    assert torch.allclose(uv[:, 1], torch.full_like(uv[:, 1], 0.615))
    rgb = model.colorize(torch.rand(1, 1, 50, 70))
    assert rgb.shape == (1, 3, 50, 70)


@pytest.mark.parametrize("efficient", [False, True])
def test_pixel_sampling_equals_the_full_output_at_those_pixels(efficient):
    torch.manual_seed(0)
    model = HypercolumnColorizer(efficient=efficient, pixel_samples=50)
    Y = torch.rand(2, 1, 32, 48)
    pixels = model.sample_pixels(Y, generator=torch.Generator().manual_seed(0))
    assert pixels.shape == (2, 50) and len(set(pixels[0].tolist())) == 50
    full = model(Y)
    sampled = model(Y, pixels)
    assert sampled.shape == (2, 2, 50)
    rows, cols = pixels // 48, pixels % 48
    for b in range(2):
        assert torch.allclose(sampled[b], full[b][:, rows[b], cols[b]], atol=1e-6)


def test_gather_pixels_checks_its_indices():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    assert gather_pixels(x, torch.tensor([0, 5, 11])).tolist() == [[[0.0, 5.0, 11.0]]]
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        gather_pixels(x, torch.tensor([12]))
    with pytest.raises(TypeError, match="int64"):
        gather_pixels(x, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="pixel_samples"):
        HypercolumnColorizer().sample_pixels(torch.rand(1, 1, 8, 8))


# ---------------------------------------------------------------------------
# The pretrained paths, with colorlib.pretrained replaced by an offline fake
# ---------------------------------------------------------------------------


def test_pretrained_vgg16_weights_are_loaded_from_a_full_torchvision_state(monkeypatch):
    from colorlib import pretrained

    torch.manual_seed(0)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # the rest of a VGG16 is ignored
    asked = []
    monkeypatch.setattr(pretrained, "load_state_dict", lambda name: asked.append(name) or state)
    model = build("hypercolumns", pretrained=True)
    assert asked == ["vgg16_imagenet"]
    assert torch.equal(model.vgg[21].weight, state["features.21.weight"])
    assert not any(p.requires_grad for p in model.vgg.parameters())


def test_pretrained_inception_weights_are_loaded_without_the_aux_classifier(monkeypatch):
    from colorlib import pretrained

    torch.manual_seed(0)
    source = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = source.state_dict()
    assert any(k.startswith("AuxLogits.") for k in state)
    monkeypatch.setattr(pretrained, "load_state_dict", lambda name: state)
    model = build("fusion", pretrained=True, embed_size=75)
    assert torch.equal(model.embedding.net.fc.weight, state["fc.weight"])
    assert count_parameters(model, trainable_only=True) == 6_573_794
