"""The week-1 exercise check: a hand-written training loop (colorlib.checks.train_one_epoch)."""

import re

import pytest
import torch
import torch.nn.functional as F

from colorlib import checks
from colorlib.checks import CheckFailed


def correct(model, loader, optimizer):
    device = next(model.parameters()).device
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        count += len(x)
    return total / count


def with_module_loss_and_dataset_length(model, loader, optimizer):
    # another correct way: nn.CrossEntropyLoss, model.zero_grad, divide by len(dataset)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    total = 0.0
    for x, y in loader:
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * x.shape[0]
    return total / len(loader.dataset)


@pytest.mark.parametrize("fn", [correct, with_module_loss_and_dataset_length])
def test_correct_loops_pass(fn, capsys):
    checks.train_one_epoch(fn)
    assert "Well done" in capsys.readouterr().out


def test_check_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    checks.train_one_epoch(correct)
    assert torch.equal(torch.rand(3), expected)


def no_zero_grad(model, loader, optimizer):
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        count += len(x)
    return total / count


def no_train_mode(model, loader, optimizer):
    total, count = 0.0, 0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        count += len(x)
    return total / count


def no_step(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


def zero_grad_between_backward_and_step(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


def softmax_first(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x).softmax(dim=1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


def return_inside_loop(model, loader, optimizer):
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()


def mse_on_one_hot(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = F.mse_loss(model(x), F.one_hot(y, 3).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


@pytest.mark.parametrize("fn, hint", [
    (no_zero_grad, "optimizer.zero_grad()"),
    (no_train_mode, "model.train()"),
    (no_step, "did not change"),
    (zero_grad_between_backward_and_step, "not between backward and step"),
    (softmax_first, "raw logits"),
    (return_inside_loop, "only the first batch"),
    (mse_on_one_hot, "F.cross_entropy(logits, y)"),
])
def test_wrong_loops_get_a_specific_hint(fn, hint):
    with pytest.raises(CheckFailed, match="train_one_epoch") as info:
        checks.train_one_epoch(fn)
    assert hint in str(info.value)


def returning(kind):
    def loop(model, loader, optimizer):
        model.train()
        losses, sizes, tensors = [], [], []
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            sizes.append(len(x))
            tensors.append(loss)
        return {
            "batch_mean": sum(losses) / len(losses),
            "sum": sum(losses),
            "last": losses[-1],
            "tensor": sum(tensors) / len(tensors),
            "none": None,
            "list": losses,
        }[kind]
    return loop


@pytest.mark.parametrize("kind, hint", [
    ("batch_mean", "weight each batch by its size"),
    ("sum", "divide by the number of examples"),
    ("last", "last batch's loss"),
    ("tensor", "Python float"),
    ("none", "returned None"),
    ("list", "as a float, got list"),
])
def test_wrong_return_values_get_a_specific_hint(kind, hint):
    with pytest.raises(CheckFailed, match=re.escape(hint)):
        checks.train_one_epoch(returning(kind))


def test_a_crashing_loop_becomes_a_hint():
    def crashes(model, loader, optimizer):
        return model(torch.zeros(2, 5))

    with pytest.raises(CheckFailed, match="raised RuntimeError"):
        checks.train_one_epoch(crashes)
