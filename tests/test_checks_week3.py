"""The week-3 exercise checks (the classifier's input, the fusion layer) and their references."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorlib import checks, color
from colorlib.checks import CheckFailed
from colorlib.models import fusion
from colorlib.models.fusion import FusionColorizer, TinyEmbedding

MEAN = torch.tensor(fusion.IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(fusion.IMAGENET_STD).view(1, 3, 1, 1)


# ---------------------------------------------------------------------------
# the library functions the checks compare with
# ---------------------------------------------------------------------------


def test_tile_and_concat_puts_the_vector_in_every_cell_after_the_features():
    features = torch.rand(2, 4, 3, 5)
    vector = torch.rand(2, 6)
    out = fusion.tile_and_concat(features, vector)
    assert out.shape == (2, 10, 3, 5)
    assert torch.equal(out[:, :4], features)
    for y in range(3):
        for x in range(5):
            assert torch.equal(out[:, 4:, y, x], vector)
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        fusion.tile_and_concat(features, torch.rand(3, 6))


def test_embedding_input_is_the_gray_image_resized_and_normalised():
    gray = torch.rand(2, 1, 40, 24)
    L, _ = color.split(gray.expand(-1, 3, -1, -1), "lab")
    out = fusion.embedding_input(L, 16)
    expected = F.interpolate(gray, size=(16, 16), mode="bilinear", antialias=True)
    assert out.shape == (2, 3, 16, 16) and out.dtype == torch.float32
    assert torch.allclose(out * STD + MEAN, expected.expand(-1, 3, -1, -1), atol=2e-3)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        fusion.embedding_input(torch.rand(2, 3, 8, 8), 16)


def test_the_model_uses_the_library_functions():
    torch.manual_seed(0)
    model = FusionColorizer(TinyEmbedding(10), embed_dim=10, embed_size=24)
    L = 100 * torch.rand(2, 1, 32, 32)
    assert torch.equal(model.embedding_input(L), fusion.embedding_input(L, 24))
    with torch.no_grad():
        features = model.encoder(L / fusion.L_SCALE - 1)
        fused = model.fuse(fusion.tile_and_concat(features, model.embed(L)))
        expected = fusion.AB_SCALE * model.decoder(fused)
        assert torch.allclose(model(L), expected)


# ---------------------------------------------------------------------------
# embedding_input
# ---------------------------------------------------------------------------


def good_input(L, size):
    rgb = color.merge(L, torch.zeros(L.shape[0], 2, *L.shape[-2:]), "lab")
    rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True)
    return (rgb - MEAN) / STD


@pytest.mark.parametrize("answer", [good_input, fusion.embedding_input], ids=["ours", "library"])
def test_embedding_input_passes_a_correct_answer(capsys, answer):
    checks.embedding_input(answer)
    assert "Well done" in capsys.readouterr().out


def gray_of(L):
    return color.merge(L, torch.zeros(L.shape[0], 2, *L.shape[-2:]), "lab")


@pytest.mark.parametrize("wrong, hint", [
    (lambda L, s: good_input(L, s) * STD + MEAN, "normalise them with the ImageNet"),
    (lambda L, s: (F.interpolate((L / 100).expand(-1, 3, -1, -1), size=(s, s), mode="bilinear",
                                 antialias=True) - MEAN) / STD, "L / 100 is not the gray"),
    (lambda L, s: (F.interpolate(gray_of(L), size=(s, s), mode="bilinear") - MEAN) / STD,
     "antialias=True"),
    (lambda L, s: good_input(L, s)[:, :1], "1 channel"),
    (lambda L, s: F.interpolate(good_input(L, s), size=(s, s + 1)), "spatial size"),
    (lambda L, s: (F.interpolate(gray_of(L), size=(s, s), mode="nearest") - MEAN) / STD,
     "wrong value at"),
    (lambda L, s: good_input(L, s).numpy(), "expected a torch.Tensor"),
])
def test_embedding_input_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.embedding_input(wrong)


# ---------------------------------------------------------------------------
# fusion_layer
# ---------------------------------------------------------------------------


def good_fusion(features, vector, conv):
    tiled = vector[:, :, None, None].expand(-1, -1, *features.shape[-2:])
    return F.relu(conv(torch.cat([features, tiled], dim=1)))


def test_fusion_layer_passes_a_correct_answer(capsys):
    checks.fusion_layer(good_fusion)
    assert "Well done" in capsys.readouterr().out


def test_fusion_layer_accepts_repeat_instead_of_expand(capsys):
    def with_repeat(features, vector, conv):
        h, w = features.shape[-2:]
        tiled = vector.view(*vector.shape, 1, 1).repeat(1, 1, h, w)
        return torch.relu(conv(torch.cat((features, tiled), 1)))

    checks.fusion_layer(with_repeat)
    assert "Well done" in capsys.readouterr().out


def reversed_order(features, vector, conv):
    tiled = vector[:, :, None, None].expand(-1, -1, *features.shape[-2:])
    return F.relu(conv(torch.cat([tiled, features], dim=1)))


def swapped_grid(features, vector, conv):
    h, w = features.shape[-2:]
    tiled = vector[:, :, None, None].expand(-1, -1, w, h)
    return F.relu(conv(torch.cat([features.transpose(2, 3), tiled], dim=1)))


def detached(features, vector, conv):
    with torch.no_grad():
        return good_fusion(features, vector, conv)


@pytest.mark.parametrize("wrong, hint", [
    (reversed_order, "wrong order"),
    (lambda f, v, conv: conv(torch.cat([f, v[:, :, None, None].expand(-1, -1, *f.shape[-2:])],
                                       1)), "ReLU is missing"),
    (swapped_grid, "wrong order"),  # (B, 256, W, H): the shape hint of expect_tensor
    (lambda f, v, conv: F.relu(conv(torch.cat([f, v], dim=1))), "raised RuntimeError"),
    (lambda f, v, conv: good_fusion(f, v, conv) + 1e-2, "wrong value at"),
    (detached, "no gradient"),
])
def test_fusion_layer_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.fusion_layer(wrong)


def test_fusion_layer_gives_the_shapes_when_the_students_code_crashes():
    def crashes(features, vector, conv):
        return conv(features)  # forgot the vector: 256 channels for a 266-channel conv

    with pytest.raises(CheckFailed, match=r"\(2, 256, 3, 5\), \(2, 10\)"):
        checks.fusion_layer(crashes)


def test_fusion_layer_is_checked_with_the_models_own_conv():
    model, features, vector = checks.fusion._fusion_case(0)
    assert isinstance(model.fuse[0], nn.Conv2d)
    assert model.fuse[0].in_channels == 256 + vector.shape[1]
    assert features.shape[-2:] == (3, 5) and features.shape[-2] != features.shape[-1]
