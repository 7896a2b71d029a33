"""cnnbook.checks: failures must explain themselves; wrong answers must never pass."""
import numpy as np
import pytest

from cnnbook.checks import CheckFailed, check_array, check_raises, check_shape, check_true, check_value


def test_check_array_passes_equal_arrays_and_tensors():
    torch = pytest.importorskip("torch")
    check_array("x", np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]]))
    check_array("x", torch.tensor([[1.0, 2.0]]), np.array([[1.0, 2.0]]))


def test_check_array_reports_expected_got_shape_and_first_difference():
    with pytest.raises(CheckFailed) as err:
        check_array("conv(image, k)", np.array([[1, 2], [3, 5]]), np.array([[1, 2], [3, 4]]), hint="look again")
    msg = str(err.value)
    assert "conv(image, k)" in msg
    assert "1 of 4 values differ" in msg
    assert "index (1, 1): expected 4, got 5" in msg
    assert "shape (2, 2)" in msg and "Hint: look again" in msg


def test_check_array_names_a_typical_slip():
    expected = np.array([[1, 2], [3, 4]])
    with pytest.raises(CheckFailed, match="typical slip: the kernel was flipped"):
        check_array("c", expected[::-1, ::-1], expected, mistakes={"the kernel was flipped": expected[::-1, ::-1]})


@pytest.mark.parametrize("got, phrase", [
    (None, "Did you forget the `return`"),
    ("text", "expected a numpy array of shape (2, 2)"),
    (np.zeros((2, 3)), "wrong shape: expected (2, 2), got (2, 3)"),
    (np.zeros((2, 2)), "Everything came back zero"),
    (-np.array([[1, 2], [3, 4]]), "wrong sign"),
])
def test_check_array_explains_common_wrong_answers(got, phrase):
    with pytest.raises(CheckFailed) as err:
        check_array("f()", got, np.array([[1, 2], [3, 4]]))
    assert phrase in str(err.value)


def test_check_array_spots_channels_in_the_wrong_place():
    with pytest.raises(CheckFailed, match="channels first"):
        check_array("f()", np.zeros((3, 4, 5)), np.zeros((4, 5, 3)))


def test_check_value_does_not_trust_objects_that_claim_equality():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailed):
        check_value("n", AlwaysEqual(), 3072)
    with pytest.raises(CheckFailed):
        check_value("order", [AlwaysEqual()], ["perceptron"])
    with pytest.raises(CheckFailed, match="expected a int, got a bool"):
        check_value("n", True, 1)


def test_check_value_numbers_lists_and_slips():
    check_value("n", np.int64(3072), 3072)
    check_value("pair", (1, 2.0), (1, 2))
    with pytest.raises(CheckFailed, match="typical slip: bias forgotten"):
        check_value("count", 30720, 30730, mistakes={"bias forgotten": 30720})


def test_check_shape_true_and_raises():
    check_shape("s", np.zeros((2, 3)), (2, 3))
    with pytest.raises(CheckFailed, match=r"expected \(3, 2\), got \(2, 3\)"):
        check_shape("s", np.zeros((2, 3)), (3, 2))
    with pytest.raises(CheckFailed, match="why"):
        check_true("t", np.bool_(False), "why")
    check_true("t", np.bool_(True), "why")

    def raises(x):
        raise ValueError("bad size")

    assert "bad size" in str(check_raises("r", raises, (1,)))
    with pytest.raises(CheckFailed, match="expected a ValueError for these arguments, but it returned 1"):
        check_raises("r", lambda x: x, (1,))
