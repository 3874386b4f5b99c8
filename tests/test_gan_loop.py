"""colorlib.train.fit_gan: ratio, smoothing, pre-training, NaN stop, exact resume."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from colorlib import models
from colorlib.checkpoint import CheckpointError
from colorlib.train import fit_gan, gan_loss


class PairCritic(nn.Module):
    """A small conditional discriminator D(L, ab) -> patch logits."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(8, 1, 4, 2, 1))
        self.calls = 0

    def forward(self, L, ab):
        self.calls += 1
        return self.net(torch.cat([L / 50 - 1, ab / 110], 1))


def make_data(n=24, size=16):
    g = torch.Generator().manual_seed(0)
    L = torch.rand(n, 1, size, size, generator=g) * 100
    return TensorDataset(L, torch.cat([0.6 * (L - 50), 40 * torch.sin(L / 15)], 1))


def loader(ds=None):
    return DataLoader(ds or make_data(), batch_size=8, shuffle=True,
                      generator=torch.Generator().manual_seed(1))


def nets():
    torch.manual_seed(0)
    return models.build("tiny", width=4), PairCritic()


def run(**kw):
    g, d = nets()
    kw = {"epochs": 2, "device": "cpu", "progress": False, "verbose": False, **kw}
    return g, d, fit_gan(g, d, kw.pop("loader", None) or loader(), **kw)


def test_losses_are_recorded_and_discriminator_steps_follow_the_ratio():
    g, d, hist = run(d_steps=2, epochs=1)
    # per batch: 2 D steps x (real + fake) + 1 G step = 5 calls; 3 batches
    assert d.calls == 3 * 5
    assert {"d_loss", "g_loss", "recon", "d_real", "d_fake"} <= set(hist.keys())


def test_pretraining_leaves_the_discriminator_untouched():
    g, d = nets()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    hist = fit_gan(g, d, loader(), epochs=2, pretrain_epochs=2, device="cpu", progress=False,
                   verbose=False)
    assert d.calls == 0 and hist["phase"] == [0.0, 0.0]
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in before.items())
    assert hist["recon"][1] < hist["recon"][0]


def test_one_sided_label_smoothing_only_changes_real_targets():
    logits = torch.zeros(4, 1)
    assert gan_loss(logits, False, smoothing=0.2) == gan_loss(logits, False)
    expected = nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, .8))
    assert torch.isclose(gan_loss(logits, True, smoothing=0.2), expected)
    assert torch.isclose(gan_loss(torch.ones(3), True, "lsgan"), torch.tensor(0.0))
    with pytest.raises(ValueError, match="bce"):
        gan_loss(logits, True, "wasserstein")


def test_nan_loss_stops_with_the_step_number(tmp_path):
    class NaNCritic(PairCritic):
        def forward(self, L, ab):
            return super().forward(L, ab) * float("nan")

    g = models.build("tiny", width=4)
    message = "discriminator loss became nan at epoch 1, step 1"
    with pytest.raises(FloatingPointError, match=message):
        fit_gan(g, NaNCritic(), loader(), epochs=1, device="cpu", progress=False, verbose=False,
                checkpoint=tmp_path / "gan.pt")
    assert not (tmp_path / "gan.pt").exists()


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    g_full, d_full, _ = run(epochs=3, seed=7, label_smoothing=0.1)
    calls = {"n": 0}

    def flaky_l1(pred, y):
        calls["n"] += 1
        if calls["n"] == 8:  # inside epoch 3
            raise KeyboardInterrupt
        return nn.functional.l1_loss(pred, y)

    ckpt = tmp_path / "gan.pt"
    with pytest.raises(KeyboardInterrupt):
        run(epochs=3, seed=7, label_smoothing=0.1, checkpoint=ckpt, recon_loss=flaky_l1)
    g, d = nets()
    fit_gan(g, d, loader(), epochs=3, seed=7, label_smoothing=0.1, checkpoint=ckpt,
            resume=True, device="cpu", progress=False, verbose=False)
    for full, resumed in ((g_full, g), (d_full, d)):
        for k, v in full.state_dict().items():
            assert torch.equal(v, resumed.state_dict()[k]), k


def test_sample_grids_are_written_every_epoch(tmp_path):
    ds = make_data()
    batch = (ds.tensors[0][:4], ds.tensors[1][:4])
    run(epochs=2, sample_batch=batch, samples_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["epoch_001.png", "epoch_002.png"]


class CountingGenerator(nn.Module):
    """A tiny Lab generator that counts its forward passes and its reconstruction losses."""

    space = "lab"

    def __init__(self):
        super().__init__()
        self.net = nn.Conv2d(1, 2, 3, padding=1)
        self.calls = 0
        self.recon_calls = 0

    def forward(self, L):
        self.calls += 1
        return 110 * torch.tanh(self.net(L / 50 - 1))

    def reconstruction_loss(self, pred, y):
        self.recon_calls += 1
        return nn.functional.l1_loss(pred, y) / 110


def test_generator_runs_once_per_batch_and_its_own_reconstruction_loss_is_the_default():
    torch.manual_seed(0)
    g, d = CountingGenerator(), PairCritic()
    hist = fit_gan(g, d, loader(), epochs=1, device="cpu", progress=False, verbose=False)
    assert g.calls == 3 and g.recon_calls == 3  # 3 batches, one generator pass each
    assert hist["recon"][0] < 1  # on the /110 scale, not raw ab (tens of units)
    g2 = CountingGenerator()
    fit_gan(g2, PairCritic(), loader(), epochs=1, g_steps=2, device="cpu", progress=False,
            verbose=False)
    assert g2.calls == 3 * 2  # a second G step needs a new pass of the updated generator
    g3 = CountingGenerator()
    fit_gan(g3, PairCritic(), loader(), epochs=1, recon_loss=nn.functional.mse_loss,
            device="cpu", progress=False, verbose=False)
    assert g3.recon_calls == 0  # an explicit loss wins


def test_gan_step_freezes_the_discriminator_only_during_the_generator_update():
    from colorlib.train import choose_precision, gan_step

    torch.manual_seed(0)
    g, d = models.build("tiny", width=4), PairCritic()
    L, ab = make_data(8).tensors
    d_before = {k: v.clone() for k, v in d.state_dict().items()}
    seen = []
    d.register_forward_pre_hook(
        lambda m, args: seen.append(all(p.requires_grad for p in m.parameters())))
    g_opt = torch.optim.Adam(g.parameters(), 1e-3)
    d_opt = torch.optim.Adam(d.parameters(), 1e-3)
    out = gan_step(g, d, L, ab, g_opt, d_opt, choose_precision(torch.device("cpu")))
    assert seen == [True, True, False]  # D step (real, fake), then G step with D frozen
    assert all(p.requires_grad for p in d.parameters())  # restored
    assert any(not torch.equal(v, d.state_dict()[k]) for k, v in d_before.items())
    assert set(out) == {"d_loss", "g_loss", "recon", "d_real", "d_fake"}
    assert 0 < float(out["d_real"]) < 1 and 0 < float(out["d_fake"]) < 1


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    ckpt = tmp_path / "gan.pt"
    run(epochs=1, checkpoint=ckpt)
    g, d = nets()
    hist = fit_gan(g, d, loader(), epochs=1, checkpoint=ckpt, resume=True, device="cpu",
                   progress=False)
    assert "1 epochs done, finished" in capsys.readouterr().out
    assert len(hist) == 1


def test_sample_grid_has_three_rows_of_the_batch(tmp_path):
    from PIL import Image

    from colorlib.train.gan import save_samples

    g, _ = nets()
    L, ab = make_data(n=5, size=16).tensors
    path = save_samples(g, (L, ab), tmp_path / "grid.png")
    width, height = Image.open(path).size
    assert (width, height) == (2 + 5 * (16 + 2), 2 + 3 * (16 + 2))  # padding 2
    assert g.training  # the generator's mode is restored


def test_gan_step_uses_the_generators_own_reconstruction_loss_by_default():
    from colorlib.train import choose_precision, gan_step

    class Generator(torch.nn.Conv2d):
        def reconstruction_loss(self, fake, real):
            return (fake - real).abs().mean() * 0 + 7.0  # recognisable, still differentiable

    g, d = Generator(1, 2, 1), torch.nn.Conv2d(3, 1, 1)
    precision = choose_precision(torch.device("cpu"), amp=False, channels_last=False)
    args = (g, d, torch.rand(2, 1, 4, 4), torch.rand(2, 2, 4, 4),
            torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1),
            precision)
    assert gan_step(*args, pretraining=True)["recon"].item() == 7.0
    plain = gan_step(*args, pretraining=True, recon_loss=torch.nn.functional.l1_loss)
    assert plain["recon"].item() != 7.0


class WideCritic(PairCritic):
    """PairCritic with 16 channels instead of 8: other weight shapes."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(16, 1, 4, 2, 1))


def test_resume_refuses_another_discriminator_and_leaves_the_file(tmp_path):
    path = tmp_path / "gan.pt"
    run(epochs=1, checkpoint=path)
    before = path.read_bytes()
    g, _ = nets()
    message = (r"cannot resume from .*gan\.pt: it was written by a different configuration "
               r"\(discriminator shapes: net\.0\.weight \(8, 3, 4, 4\) then, \(16, 3, 4, 4\) "
               r"now, net\.0\.bias \(8,\) then, \(16,\) now, net\.2\.weight \(1, 8, 4, 4\) "
               r"then, \(1, 16, 4, 4\) now\)\. To start this run afresh pass a new checkpoint "
               r"path, or delete")
    with pytest.raises(CheckpointError, match=message):
        fit_gan(g, WideCritic(), loader(), epochs=2, checkpoint=path, resume=True,
                device="cpu", progress=False, verbose=False)
    assert path.read_bytes() == before


def test_resume_refuses_a_checkpoint_from_fit_or_another_optimizer(tmp_path):
    from colorlib.train import fit

    path = tmp_path / "run.pt"
    g, d = nets()
    fit(g, loader(), epochs=1, device="cpu", checkpoint=path, progress=False, verbose=False)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="it was written by colorlib.train.fit, not by "
                                              "colorlib.train.fit_gan"):
        fit_gan(g, d, loader(), epochs=2, checkpoint=path, resume=True, device="cpu",
                progress=False, verbose=False)
    assert path.read_bytes() == before

    path = tmp_path / "gan.pt"
    run(epochs=1, checkpoint=path)
    before = path.read_bytes()
    g, d = nets()
    rms = torch.optim.RMSprop(d.parameters())
    with pytest.raises(CheckpointError, match=r"\(d_optimizer: Adam then, RMSprop now\)"):
        fit_gan(g, d, loader(), epochs=2, d_optimizer=rms, checkpoint=path, resume=True,
                device="cpu", progress=False, verbose=False)
    assert path.read_bytes() == before


@pytest.fixture
def steps_seen(monkeypatch):
    """Every call of GANStep during a test: ``[(batch size, {name: value}), ...]``."""
    from colorlib.train.gan import GANStep

    seen = []
    original = GANStep.__call__

    def recording(self, x, y, **kw):
        out = original(self, x, y, **kw)
        seen.append((len(x), {k: float(v) for k, v in out.items()}))
        return out

    monkeypatch.setattr(GANStep, "__call__", recording)
    return seen


def test_history_is_the_batch_size_weighted_mean_of_each_step(steps_seen):
    """The sums kept on the device give the same epoch means as averaging by hand."""
    # 20 pairs in batches of 8, 8 and 4: an unweighted mean of the batches would differ
    _, _, hist = run(epochs=2, pretrain_epochs=1, loader=loader(make_data(n=20)))
    assert [n for n, _ in steps_seen] == [8, 8, 4] * 2
    for epoch, batches in enumerate((steps_seen[:3], steps_seen[3:])):
        for key in ("d_loss", "g_loss", "recon", "d_real", "d_fake"):
            by_hand = sum(n * v[key] for n, v in batches) / 20
            assert hist[key][epoch] == pytest.approx(by_hand, rel=0, abs=1e-6), key
    assert hist["d_loss"][0] == 0.0 and hist["d_loss"][1] > 0  # pretraining, then GAN
    unweighted = sum(v["recon"] for _, v in steps_seen[3:]) / 3
    assert abs(hist["recon"][1] - unweighted) > 1e-6  # the test can tell the two apart


def test_progress_bar_shows_the_running_means_from_the_first_batch(steps_seen, capsys):
    run(epochs=1, progress=True)
    first = steps_seen[0][1]
    shown = f"d={first['d_loss']:.3f}, g={first['g_loss']:.3f}, recon={first['recon']:.3g}"
    assert shown in capsys.readouterr().err
