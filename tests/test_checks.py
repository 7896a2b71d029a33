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


def test_a_slip_that_differs_in_the_fifth_decimal_shows_the_digits_that_tell_it_apart():
    """eps inside the square root: the slip is named, and the arrays print the same at 4 decimals (a learner's
    trial), so the first difference is shown with enough digits to see it."""
    expected = np.array([0.9000316, -1.90003162])
    slip = expected + 3e-6
    with pytest.raises(CheckFailed) as err:
        check_array("w", slip, expected, rtol=1e-9, atol=1e-12, mistakes={"eps inside the root": slip})
    msg = str(err.value)
    assert "typical slip: eps inside the root" in msg and "2 of 2 values differ" in msg
    assert "index (0,): expected 0.900032, got 0.900035" in msg, msg


def test_a_large_array_of_mostly_zeros_shows_its_few_values_and_where():
    """A detection target (8 x 8 x 6, one object) printed as pages of zeros and '...' that hid the one cell; now
    its values and their indices, for what was expected and what came back (row and column swapped here)."""
    expected, got = np.zeros((8, 8, 6)), np.zeros((8, 8, 6))
    expected[5, 2] = [1, 0.5, 0.25, 2.5, 5, 7]
    got[2, 5] = [1, 0.5, 0.25, 2.5, 5, 7]
    with pytest.raises(CheckFailed) as err:
        check_array("encode_targets(<one box>, [7])", got, expected)
    msg = str(err.value)
    assert "384 values, all 0 except 6: (5, 2, 0): 1, (5, 2, 1): 0.5" in msg and "(2, 5, 5): 7" in msg, msg
    assert len(msg.splitlines()) < 15 and "..." not in msg, msg


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
    with pytest.raises(CheckFailed, match=r"\(expected type int, got bool\)"):
        check_value("n", True, 1)


def test_check_value_numbers_lists_and_slips():
    check_value("n", np.int64(3072), 3072)
    check_value("pair", (1, 2.0), (1, 2))
    with pytest.raises(CheckFailed, match="typical slip: bias forgotten"):
        check_value("count", 30720, 30730, mistakes={"bias forgotten": 30720})
    # A numpy number reads as the number (numpy 2's repr, np.float64(6.27), reads as a call: a learner's trial).
    with pytest.raises(CheckFailed) as failed:
        check_value("loss", np.float64(6.27), 6.5)
    assert "got      6.27" in str(failed.value) and "np." not in str(failed.value), str(failed.value)


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


def test_arrays_that_look_the_same_at_four_decimals_are_shown_with_the_digits_that_differ():
    """A learner's trial: Adam with eps inside the square root printed two identical-looking arrays (4 decimals)
    under "first difference": the arrays are shown with as many decimals as tell them apart."""
    import numpy as np

    from cnnbook.checks import CheckFailed, check_array

    with pytest.raises(CheckFailed) as failed:
        check_array("adam path", np.array([0.90314123, 1.0]), np.array([0.90313912, 1.0]), rtol=1e-9, atol=1e-12)
    said = str(failed.value)
    assert "[0.903139, 1.      ]" in said and "[0.903141, 1.      ]" in said, said
    with pytest.raises(CheckFailed) as failed:                        # a difference 4 decimals show: as before
        check_array("plain", np.array([0.5, 1.0]), np.array([0.25, 1.0]))
    assert "[0.25, 1.  ]" in str(failed.value)
