"""The shared machinery of the exercise checks: crash reports and value hints."""

import pytest
import torch

from colorlib.checks.core import CheckFailed, call, expect_tensor


def boom(*args):
    raise ValueError("bad input")


def test_a_crash_names_the_shapes_of_tensor_and_list_arguments():
    with pytest.raises(CheckFailed, match=r"ValueError: bad input \(called with tensors of shape "
                                          r"\(2, 3\), \[\(1,\), \(4, 4\)\]\)"):
        call(boom, torch.zeros(2, 3), [torch.zeros(1), torch.zeros(4, 4)], 7, what="f")


def test_a_crash_without_tensor_arguments_has_no_empty_shape_list():
    with pytest.raises(CheckFailed) as info:
        call(boom, 3, "x", what="f")
    assert str(info.value) == "f raised ValueError: bad input"


def test_not_implemented_passes_through_unchanged():
    def unsolved():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        call(unsolved, what="f")


def test_expect_tensor_points_at_the_first_wrong_pixel():
    expected = torch.zeros(1, 2, 3, 3)
    got = expected.clone()
    got[0, 1, 2, 0] = 0.5
    with pytest.raises(CheckFailed, match=r"wrong value at \(image=0, channel=1, y=2, x=0\)"):
        expect_tensor(got, expected, "f", atol=1e-3, names="image channel y x")
    with pytest.raises(CheckFailed, match="wrong shape"):
        expect_tensor(got[:, :1], expected, "f", atol=1e-3)
