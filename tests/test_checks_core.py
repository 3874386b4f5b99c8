"""The shared machinery of the exercise checks: crash reports and value hints."""

import functools

import pytest
import torch
from torch import nn

from colorlib import checks
from colorlib.checks.core import CheckFailed, call, close, expect_tensor, parameter_shapes


def boom(*args):
    raise ValueError("bad input")


def test_a_crash_names_the_shapes_of_tensor_and_list_arguments():
    with pytest.raises(CheckFailed, match=r"ValueError: bad input \(called with tensors of shape "
                                          r"\(2, 3\), \[\(1,\), \(4, 4\)\]\)"):
        call(boom, torch.zeros(2, 3), [torch.zeros(1), torch.zeros(4, 4)], 7, what="f")


def test_a_crash_without_tensor_arguments_has_no_empty_shape_list():
    with pytest.raises(CheckFailed, match=r"^f raised ValueError: bad input$"):
        call(boom, 3, "x", what="f")


EVERY_CHECK = [name for name in checks.__all__ if name != "CheckFailed"]


@pytest.mark.parametrize("check", [functools.partial(call, what="f"),
                                   *(getattr(checks, name) for name in EVERY_CHECK)],
                         ids=["core.call", *EVERY_CHECK])
def test_an_unsolved_exercise_passes_not_implemented_through_unchanged(check):
    """An unsolved exercise (a function, or a class to build) stops "Run all" right there."""
    def unsolved(*args):
        raise NotImplementedError("exercise 7 is not solved yet")

    with pytest.raises(NotImplementedError, match="^exercise 7 is not solved yet$"):
        check(unsolved)


def test_close_needs_a_finite_tensor_of_the_same_shape_within_tolerance():
    expected = torch.tensor([1.0, 2.0])
    assert close(torch.tensor([1.0, 2.00015]), expected)  # 1.5e-4 <= 1e-4 + 1e-4 * 2
    assert not close(torch.tensor([1.0, 2.001]), expected)
    assert close(torch.tensor([1.0, 2.001]), expected, atol=2e-3)
    assert not close(torch.tensor([[1.0, 2.0]]), expected)  # shape (1, 2), not (2,)
    assert not close([1.0, 2.0], expected)  # a list is not a tensor
    assert not close(torch.tensor([1.0, float("inf")]), torch.tensor([1.0, float("inf")]))
    assert not close(expected, None)  # a mistake that could not be computed never matches


def test_parameter_shapes_lists_every_parameter_in_order():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2, bias=False))
    assert parameter_shapes(model) == [(4, 1, 3, 3), (4,), (4,), (4,), (2, 4)]


def test_expect_tensor_points_at_the_first_wrong_pixel():
    expected = torch.zeros(1, 2, 3, 3)
    got = expected.clone()
    got[0, 1, 2, 0] = 0.5
    with pytest.raises(CheckFailed, match=r"wrong value at \(image=0, channel=1, y=2, x=0\)"):
        expect_tensor(got, expected, "f", atol=1e-3, names="image channel y x")
    with pytest.raises(CheckFailed, match="wrong shape"):
        expect_tensor(got[:, :1], expected, "f", atol=1e-3)
