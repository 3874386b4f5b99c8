"""colorlib.train.fit: learning, checkpoints, exact resume, clear failures."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from colorlib import models
from colorlib.checkpoint import CheckpointError
from colorlib.train import History, fit


def make_data(n=24, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = torch.rand(n, 1, size, size, generator=g) * 100
    ab = torch.cat([0.6 * (L - 50), 40 * torch.sin(L / 15)], dim=1)  # colours follow L
    return TensorDataset(L, ab)


def loader(ds, own_generator=True, batch_size=8):
    gen = torch.Generator().manual_seed(1) if own_generator else None
    return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen)


def new_model():
    torch.manual_seed(0)
    return models.build("tiny", width=4)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fit_learns_and_records_history():
    torch.manual_seed(0)
    model = models.build("tiny", width=8)
    train, val = loader(make_data(n=64)), DataLoader(make_data(seed=1), batch_size=8)
    hist = fit(model, train, val, epochs=6, lr=5e-3, device="cpu", progress=False,
               verbose=False, metrics={"mae": lambda p, y: (p - y).abs().mean()})
    assert isinstance(hist, History) and len(hist) == 6
    assert {"epoch", "train_loss", "val_loss", "mae", "seconds"} <= set(hist.keys())
    baseline = torch.stack([y for _, y in make_data(seed=1)]).pow(2).mean().item()
    # predicting ab = 0 (gray) scores `baseline`; measured: val loss 0.39 x baseline
    assert hist["val_loss"][-1] < 0.6 * baseline
    assert hist["train_loss"][-1] < hist["train_loss"][0]


@pytest.mark.parametrize("own_generator", [True, False])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, own_generator):
    ds = make_data()
    full = new_model()
    fit(full, loader(ds, own_generator), epochs=4, seed=3, device="cpu", progress=False,
        verbose=False)

    part = new_model()
    ckpt = tmp_path / "run.pt"
    fit(part, loader(ds, own_generator), epochs=2, seed=3, device="cpu", checkpoint=ckpt,
        progress=False, verbose=False)
    # a fresh process would rebuild everything: new model, new loader, new RNG
    torch.manual_seed(12345)
    resumed = new_model()
    hist = fit(resumed, loader(ds, own_generator), epochs=4, seed=3, device="cpu",
               checkpoint=ckpt, resume=True, progress=False, verbose=False)
    assert len(hist) == 4
    for key, value in weights(full).items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_interrupted_mid_epoch_then_resumed_matches(tmp_path):
    ds = make_data()
    full = new_model()
    fit(full, loader(ds), epochs=3, seed=5, device="cpu", progress=False, verbose=False)

    calls = {"n": 0}

    def flaky_loss(pred, y):
        calls["n"] += 1
        if calls["n"] == 8:  # during epoch 3 (3 batches per epoch)
            raise KeyboardInterrupt("Colab disconnected")
        return torch.nn.functional.mse_loss(pred, y)

    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(new_model(), loader(ds), epochs=3, seed=5, device="cpu", checkpoint=ckpt,
            loss_fn=flaky_loss, progress=False, verbose=False)
    resumed = new_model()
    fit(resumed, loader(ds), epochs=3, seed=5, device="cpu", checkpoint=ckpt, resume=True,
        progress=False, verbose=False)
    for key, value in weights(full).items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_existing_checkpoint_is_never_silently_overwritten(tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"an earlier run")
    with pytest.raises(FileExistsError, match="resume=True"):
        fit(new_model(), loader(make_data()), epochs=1, device="cpu", checkpoint=ckpt,
            progress=False, verbose=False)
    assert ckpt.read_bytes() == b"an earlier run"


def test_finished_run_resumes_to_nothing(tmp_path):
    ckpt = tmp_path / "run.pt"
    model = new_model()
    fit(model, loader(make_data()), epochs=2, device="cpu", checkpoint=ckpt, progress=False,
        verbose=False)
    before = ckpt.read_bytes()
    again = new_model()
    hist = fit(again, loader(make_data()), epochs=2, device="cpu", checkpoint=ckpt, resume=True,
               progress=False, verbose=False)
    assert len(hist) == 2 and ckpt.read_bytes() == before
    for key, value in weights(model).items():
        assert torch.equal(value, again.state_dict()[key])


def test_nan_loss_stops_with_the_step_number(tmp_path):
    def bad_loss(pred, y):
        return torch.nn.functional.mse_loss(pred, y) * float("nan")

    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1"):
        fit(new_model(), loader(make_data()), epochs=1, device="cpu", loss_fn=bad_loss,
            checkpoint=tmp_path / "x.pt", progress=False, verbose=False)
    assert not (tmp_path / "x.pt").exists()


def test_gradient_clipping_and_channels_last_run_on_cpu():
    model = new_model()
    hist = fit(model, loader(make_data()), epochs=1, device="cpu", grad_clip=0.5,
               channels_last=True, progress=False, verbose=False)
    assert len(hist) == 1


def test_bf16_autocast_on_cpu_trains():
    model = new_model()
    hist = fit(model, loader(make_data()), epochs=2, device="cpu", amp=True, progress=False,
               verbose=False)
    assert all(torch.isfinite(torch.tensor(hist["train_loss"])))


# --------------------------------------------------------------------------- resume safety


def finished_run(path, model=None, **kw):
    """A 1-epoch run checkpointed at ``path``; returns the file's bytes."""
    fit(model or new_model(), loader(make_data()), epochs=1, device="cpu", checkpoint=path,
        progress=False, verbose=False, **kw)
    return path.read_bytes()


def test_resume_refuses_a_checkpoint_of_other_model_arguments(tmp_path):
    path = tmp_path / "run.pt"
    before = finished_run(path)
    torch.manual_seed(0)
    wider = models.build("tiny", width=8)
    untouched = weights(wider)
    message = (r"cannot resume from .*run\.pt: it was written by a different configuration "
               r"\(model: the checkpoint holds 'tiny' with \{'width': 4\}, not 'tiny' with "
               r"\{'width': 8\}\)\. To start this run afresh pass a new checkpoint path, or "
               r"delete .*run\.pt")
    with pytest.raises(CheckpointError, match=message):
        fit(wider, loader(make_data()), epochs=3, device="cpu", checkpoint=path, resume=True,
            progress=False, verbose=False)
    assert path.read_bytes() == before
    for key, value in untouched.items():  # nothing was loaded into the model
        assert torch.equal(value, wider.state_dict()[key]), key


def test_resume_refuses_other_weight_shapes_of_an_unnamed_network(tmp_path):
    path = tmp_path / "run.pt"
    torch.manual_seed(0)
    before = finished_run(path, model=torch.nn.Conv2d(1, 2, 3, padding=1))
    wider = torch.nn.Conv2d(1, 2, 5, padding=2)
    with pytest.raises(CheckpointError,
                       match=r"\(model shapes: weight \(2, 1, 3, 3\) then, \(2, 1, 5, 5\) now\)"):
        fit(wider, loader(make_data()), epochs=2, device="cpu", checkpoint=path, resume=True,
            progress=False, verbose=False)
    assert path.read_bytes() == before


def test_resume_refuses_another_optimizer_or_scheduler(tmp_path):
    path = tmp_path / "run.pt"
    model = new_model()
    before = finished_run(path, model=model)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match=r"\(optimizer: Adam then, SGD now\)"):
        fit(model, loader(make_data()), epochs=2, device="cpu", checkpoint=path, resume=True,
            optimizer=sgd, progress=False, verbose=False)
    adam = torch.optim.Adam(model.parameters())
    steps = torch.optim.lr_scheduler.StepLR(adam, step_size=1)
    with pytest.raises(CheckpointError, match=r"\(scheduler: none then, StepLR now\)"):
        fit(model, loader(make_data()), epochs=2, device="cpu", checkpoint=path, resume=True,
            optimizer=adam, scheduler=steps, progress=False, verbose=False)
    assert path.read_bytes() == before


def test_resume_refuses_other_parameter_groups_before_loading_anything(tmp_path):
    # torch's own optimizer.load_state_dict would only fail after the model's weights
    # were loaded; fit must refuse first and leave model and file untouched
    path = tmp_path / "run.pt"
    model = new_model()
    before = finished_run(path, model=model)
    torch.manual_seed(1)
    fresh = new_model()
    untouched = weights(fresh)
    first, *rest = list(fresh.parameters())
    first.requires_grad_(False)  # frozen: the new optimizer gets one tensor fewer
    adam = torch.optim.Adam(rest)
    n = len(rest)
    with pytest.raises(CheckpointError,
                       match=rf"\(optimizer: parameter groups of \[{n + 1}\] tensors then, "
                             rf"\[{n}\] now\)"):
        fit(fresh, loader(make_data()), epochs=2, device="cpu", checkpoint=path, resume=True,
            optimizer=adam, progress=False, verbose=False)
    assert path.read_bytes() == before
    for key, value in untouched.items():
        assert torch.equal(value, fresh.state_dict()[key]), key


def test_resume_refuses_a_gan_checkpoint(tmp_path):
    from colorlib.train import fit_gan

    class Critic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 4, 2, 1)

        def forward(self, L, ab):
            return self.conv(torch.cat([L, ab], 1))

    path = tmp_path / "gan.pt"
    fit_gan(new_model(), Critic(), loader(make_data()), epochs=1, device="cpu", checkpoint=path,
            progress=False, verbose=False)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="it was written by colorlib.train.fit_gan, not "
                                              "by colorlib.train.fit"):
        fit(new_model(), loader(make_data()), epochs=2, device="cpu", checkpoint=path,
            resume=True, progress=False, verbose=False)
    assert path.read_bytes() == before


def test_checkpoints_without_recorded_classes_still_resume(tmp_path):
    """Files written before the optimizer classes were recorded resume as before."""
    from colorlib import checkpoint

    path = tmp_path / "run.pt"
    finished_run(path)
    state = checkpoint.load(path)
    del state["classes"]
    checkpoint.save(path, state)
    hist = fit(new_model(), loader(make_data()), epochs=2, device="cpu", checkpoint=path,
               resume=True, progress=False, verbose=False)
    assert len(hist) == 2 and hist["epoch"] == [1, 2]
