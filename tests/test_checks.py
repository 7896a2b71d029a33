"""cnnbook.checks: failures must explain themselves; wrong answers must never pass."""
import numpy as np
import pytest

from cnnbook.checks import (CheckFailed, answer_of, check_array, check_parts, check_raises, check_shape, check_true,
                            check_type, check_value, described, raised_instead)


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


def test_a_large_array_of_zeros_only_says_so():
    """Lesson 05 in a trial: avgpool_backward returned zeros where a ValueError was expected, and the box read "it
    returned 324 values, all 0 except 0". An array of zeros only says that it is all zeros, in either language."""
    from cnnbook.checks import check_raises
    from cnnbook.i18n import set_language

    for lang, said in (("en", "324 values, all 0"), ("ko", "값 324개, 모두 0")):
        set_language(lang)
        try:
            with pytest.raises(CheckFailed) as err:
                check_raises("avgpool_backward(...)", lambda: np.zeros((2, 3, 6, 9)), ())
        finally:
            set_language("en")
        msg = str(err.value)
        assert said in msg and "except" not in msg and "빼고" not in msg, msg


def test_a_large_batch_of_maps_shows_the_map_where_they_first_differ():
    """A trial with MobileNetV2 code from public work: an InvertedResidual with a ReLU6 after its projection failed
    with two (2, 24, 8, 8) outputs printed by numpy's summary, over 200 lines, the hint below them all. A batch of
    maps shows, for what was expected and what came back, the one map holding the first difference."""
    rng = np.random.default_rng(0)
    expected = rng.normal(size=(2, 24, 8, 8))
    got = expected.copy()
    got[1, 5, 2:, :] = np.maximum(got[1, 5, 2:, :], 0)
    with pytest.raises(CheckFailed) as err:
        check_array("InvertedResidual(24, 24, 1, 6)(x)", got, expected, hint="look again")
    msg = str(err.value)
    assert "expected (shape (2, 24, 8, 8)):" in msg and "[1, 5, :, :]" in msg, msg
    assert f"{expected[1, 5, 2, 0]:.4f}"[:6] in msg or f"{expected[1, 5, 2, 1]:.4f}"[:6] in msg, msg
    assert len(msg.splitlines()) < 30 and "Hint: look again" in msg, msg


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


# ----------------------------------------------------------------------------- check_type, answer_of
@pytest.fixture
def in_language():
    from cnnbook.i18n import set_language

    yield set_language
    set_language(None)


def test_check_type_passes_an_instance_and_names_both_types_otherwise():
    check_type("n", 3, (int, np.integer))
    check_type("n", np.int64(3), (int, np.integer))
    with pytest.raises(CheckFailed) as err:
        check_type("type of f(2)", 2.0, (int, np.integer), expected="an int (a count)", hint="use //")
    msg = str(err.value)
    assert msg.startswith("type of f(2):")
    assert "expected an int (a count), got a value of type float: 2.0" in msg and "Hint: use //" in msg
    assert "return" not in msg
    with pytest.raises(CheckFailed, match=r"expected a value of type float, got a value of type numpy\.float32: 2\.5"):
        check_type("loss", np.float32(2.5), float)
    with pytest.raises(CheckFailed) as big:             # a long value is not shown, its type is
        check_type("x", list(range(1000)), tuple)
    assert "but it returned a list of 1000 items" in str(big.value) and "999" not in str(big.value)


def test_check_type_says_none_is_a_forgotten_return(in_language):
    with pytest.raises(CheckFailed) as err:
        check_type("f(2)", None, dict, expected="a dict {idea: person}")
    assert "returned None, but a dict {idea: person} was expected. Did you forget the `return` statement?" \
        in str(err.value)
    in_language("ko")
    with pytest.raises(CheckFailed) as ko:
        check_type("f(2)", None, (int, np.integer))
    assert "int 또는 numpy.integer 자료형의 값을 기대했지만 None을 돌려주었습니다. `return` 문을 빠뜨리지 않았나요?" \
        in str(ko.value), str(ko.value)
    with pytest.raises(CheckFailed) as other:
        check_type("f(2)", 2.5, int)
    assert "int 자료형의 값을 기대했지만, 받은 값은 float 자료형의 2.5입니다." in str(other.value), str(other.value)


def test_what_came_back_is_described_by_its_type_and_its_shape_or_length(in_language):
    torch = pytest.importorskip("torch")
    assert described(np.zeros((64, 4))) == "a numpy array of shape (64, 4)"
    assert described(torch.zeros(2, 3)) == "a torch tensor of shape (2, 3)"
    assert described(torch.tensor(2.5)) == "a torch tensor holding one number (shape ())"     # a loss without .item()
    assert described([[1, 2], [3, 4], [5, 6]]) == "a list of 3 items"
    assert described((np.zeros(3), 2.5)) == "a tuple of 2 items (a numpy array of shape (3,), a value of type float)"
    assert described({"a": 1}) == "a dict of 1 item"
    assert described(None) == "None"
    assert described(2.5) == "a value of type float"
    in_language("ko")
    assert described([1, 2, 3]) == "항목 3개짜리 list"
    assert described(np.zeros((2, 2))) == "형태 (2, 2)의 numpy 배열"


def test_check_type_says_how_long_or_large_a_value_too_long_to_show_was():
    with pytest.raises(CheckFailed) as big:
        check_type("pool(x)", [[0.0] * 40] * 3, np.ndarray, expected="a numpy array (N, C, H_out, W_out)")
    assert "expected a numpy array (N, C, H_out, W_out), but it returned a list of 3 items" in str(big.value), str(big.value)


def test_check_parts_gives_the_values_returned_together_or_says_what_came_back(in_language):
    boxes, scores = np.zeros((64, 4)), np.zeros(64)
    got = check_parts("decode(output)", (boxes, scores, [1]), 3)
    assert type(got) is tuple and got[0] is boxes and got[2] == [1]
    assert check_parts("f()", [1, 2], 2) == (1, 2)                # a list of the right length unpacks the same
    with pytest.raises(CheckFailed) as short:
        check_parts("decode(output)", (boxes, scores), 3, expected="a tuple (boxes, scores, labels)",
                    hint="return boxes, scores, labels")
    msg = str(short.value)
    assert msg.startswith("decode(output):\n")
    assert ("expected a tuple (boxes, scores, labels): 3 values, but it returned a tuple of 2 items (a numpy array of "
            "shape (64, 4), a numpy array of shape (64,))") in msg, msg
    assert "Hint: return boxes, scores, labels" in msg
    with pytest.raises(CheckFailed, match=r"expected the values returned together \(return a, b, c\), but it "
                                          r"returned a numpy array of shape \(64, 4\)"):
        check_parts("decode(output)", boxes, 3)
    with pytest.raises(CheckFailed, match="returned None, but the values returned together"):
        check_parts("decode(output)", None, 3)
    in_language("ko")
    with pytest.raises(CheckFailed) as ko:
        check_parts("decode(output)", (boxes, scores), 3)
    assert "함께 돌려준 값(return a, b, c): 값 3개가 와야 하는데, 받은 값은 항목 2개짜리 tuple" in str(ko.value), str(ko.value)


def test_check_type_with_a_length_says_how_many_values_came_back_and_which(in_language):
    """A function that returns 2 values where 3 are expected was told "expected a tuple (mistakes_per_epoch, weights,
    bias), got tuple": the failure says how many came back, and which (their values, or their types when long)."""
    check_type("f()", (1, 2.0, None), tuple, length=3)
    with pytest.raises(CheckFailed) as err:
        check_type("train(x)", ([1, 0], np.array([0.5, 1.0])), tuple, length=3,
                   expected="a tuple (mistakes, weights, bias)", hint="return mistakes, weights, bias")
    assert "expected a tuple (mistakes, weights, bias): 3 values, but got 2: ([1, 0], array([0.5, 1. ]))" \
        in str(err.value), str(err.value)
    with pytest.raises(CheckFailed) as long:
        check_type("train(x)", (list(range(100)), np.zeros(50), 0.0, 1), tuple, length=3)
    assert ("expected a value of type tuple: 3 values, but it returned a tuple of 4 items (a list of 100 items, a numpy "
            "array of shape (50,), a value of type float, a value of type int)") \
        in str(long.value), str(long.value)
    with pytest.raises(CheckFailed, match="got a value of type list"):
        check_type("f()", [1, 2, 3], tuple, length=3)
    in_language("ko")
    with pytest.raises(CheckFailed) as ko:
        check_type("train(x)", (2160, 672), tuple, length=3)
    assert "tuple 자료형의 값: 값 3개가 와야 하는데 2개가 왔습니다: (2160, 672)" in str(ko.value), str(ko.value)


def test_a_value_shown_inside_a_list_a_tuple_or_a_dict_is_the_number_it_is():
    """numpy 2 writes np.int64(0), which a learner reads as a call: in a list, a tuple or a dict too (a learner's
    trial: "got a value of type list: [np.int64(0), np.int64(3), np.int64(4)]"), and a long one is cut short."""
    from cnnbook.checks import _fmt

    assert _fmt([np.int64(0), np.int64(3)]) == "[0, 3]"
    assert _fmt({"a": (np.float64(0.5),), "b": [np.bool_(True), "x", None]}) == "{'a': (0.5,), 'b': [True, 'x', None]}"
    assert _fmt((np.float32(0.25), [])) == "(0.25, [])"
    with pytest.raises(CheckFailed) as err:
        check_type("nms(boxes, scores)", [np.int64(0), np.int64(3)], np.ndarray)
    assert str(err.value).endswith("got a value of type list: [0, 3]"), str(err.value)
    shown = _fmt([np.int64(n) for n in range(1_000_000)])
    assert shown.startswith("[0, 1, 2, ") and shown.endswith(", ...]") and len(shown) < 10_000


def test_a_numpy_number_an_author_shows_in_an_explanation_is_the_number_it_is():
    """A test cell's f"expected an int (a count), got {type(got).__name__} {got!r}" said "got float64
    np.float64(760.0)" (numpy 2's repr, read as a call): check_true shows the number, 760.0."""
    got = np.float64(760.0)
    with pytest.raises(CheckFailed) as err:
        check_true("conv_params(5, 3, 10) returns an int", False,
                   f"expected an int (a count), got {type(got).__name__} {got!r}; "
                   f"{[np.int64(3), np.float32(-1.5e-05), np.True_, np.str_('a')]!r}, {np.float64(np.nan)!r}")
    assert str(err.value).endswith("expected an int (a count), got float64 760.0; [3, -1.5e-05, True, 'a'], nan"), \
        str(err.value)


def test_answer_of_returns_the_answer_or_names_the_call_the_error_and_why(in_language):
    def second(xs):
        return xs[1]

    assert answer_of("second([1, 2])", second, ([1, 2],), why="two values are enough") == 2
    with pytest.raises(CheckFailed) as err:
        answer_of("second([1])", second, ([1],), why="the list is long enough", hint="count from 0")
    msg = str(err.value)
    assert msg.startswith("second([1]):")
    assert "raised IndexError: list index out of range, but the list is long enough." in msg
    assert "Hint: count from 0" in msg
    in_language("ko")
    with pytest.raises(CheckFailed) as ko:
        answer_of("second([1])", second, ([1],), why="the list is long enough")
    assert ". 그런데 IndexError 예외가 발생했습니다: list index out of range." in str(ko.value), str(ko.value)


def test_answer_of_explains_a_known_error_and_lets_a_failed_check_through(in_language):
    def halves(n):
        return list(range(n / 2))

    with pytest.raises(CheckFailed) as err:
        answer_of("halves(4)", halves, (4,), why="4 is even", kwargs={})
    assert "raised TypeError: 'float' object cannot be interpreted as an integer, but 4 is even." in str(err.value)
    assert "What it usually means: A float where Python needs a whole number" in str(err.value)

    def checked():
        raise CheckFailed("f changed what it was given", what="f")

    with pytest.raises(CheckFailed, match="^f changed what it was given$"):
        answer_of("f()", checked, why="never")
    with pytest.raises(CheckFailed) as data:            # an error a learner_side function reported as data
        raised_instead("f(2)", ("TypeError", "'float' object cannot be interpreted as an integer"), "2 is fine")
    assert "raised TypeError: 'float' object cannot be interpreted as an integer, but 2 is fine." in str(data.value)
    assert "What it usually means:" in str(data.value)
    in_language("ko")
    with pytest.raises(CheckFailed) as ko:
        raised_instead("f(2)", ("TypeError", "'float' object cannot be interpreted as an integer"), "2 is fine")
    assert "보통 이런 뜻입니다: 파이썬에 정수가 필요한 자리" in str(ko.value), str(ko.value)


def test_raised_instead_keeps_where_the_grader_says_the_learners_code_raised():
    """An error that crossed the grader's wall says "your code raised ValueError: boom (at line 3: x[9])"; the
    failure keeps the learner's message and where it was raised, without saying "raised" twice."""
    err = ValueError("your code raised ValueError: boom (at line 3: x[9])")
    err.from_kernel = True                      # type: ignore[attr-defined]
    err.learner_message = "boom"                # type: ignore[attr-defined]
    with pytest.raises(CheckFailed) as caught:
        raised_instead("f(2)", err, "2 is fine")
    assert "raised ValueError: boom (at line 3: x[9]), but 2 is fine." in str(caught.value)
    assert "your code raised" not in str(caught.value)


def test_raised_instead_keeps_where_when_the_line_repeats_the_message():
    """The learner's line usually repeats their message (`raise ValueError("impossible settings")`): the failure read
    "raised ValueError: impossible settings \")), but ..." (the tail after the message's LAST occurrence)."""
    from autograde.judge import _as_local_exception
    from autograde.kernel import RemoteError

    err = _as_local_exception(RemoteError("ValueError", "impossible settings",
                                          'line 3: raise ValueError("impossible settings")',
                                          ("ValueError", "Exception", "BaseException", "object"), "builtins"))
    with pytest.raises(CheckFailed) as caught:
        raised_instead("pool2d_forward(x, 2, 2, 'avg')", err, "'avg' is a mode")
    assert ('raised ValueError: impossible settings (at line 3: raise ValueError("impossible settings")), '
            "but 'avg' is a mode.") in str(caught.value), str(caught.value)


def test_a_long_string_in_a_failed_check_is_shown_in_part():
    """A learner's function may return a string of a million characters (the grader's wall lets one through, and a
    hundred of them in a list): the failure said all of them, a message of 100 MB in the results and the feedback."""
    from cnnbook.checks import CheckFailed, check_value

    for got in ["x" * 1_000_000, ["y" * 1_000_000] * 100, {"k" * 1_000_000: 1}]:
        with pytest.raises(CheckFailed) as err:
            check_value("f(x)", got, 3)
        assert len(str(err.value)) < 50_000
    with pytest.raises(CheckFailed) as err:
        check_value("f(x)", "abc", 3)
    assert "'abc'" in str(err.value)


def test_a_failure_line_that_quotes_a_long_value_is_cut():
    """An author's explanation quotes a learner's value as it is (``f"got {got}"``, ``type(got).__name__``): a string
    of a million characters made a message of a million characters."""
    from cnnbook.checks import CheckFailed, check_true

    with pytest.raises(CheckFailed) as err:
        check_true("f(x)", False, "got " + "x" * 1_000_000)
    assert len(str(err.value)) < 50_000 and str(err.value).startswith("f(x):\n  got xxx")


def test_statement_at_quotes_the_whole_statement_a_header_or_the_line():
    from cnnbook.checks import statement_at

    source = ("x = 1\nfor k in f(x,\n           2):\n    check(k,\n          3)\n    y = 2\n"
              "z = g(\n" + "    1,\n" * 12 + ")\n")
    assert statement_at(source, 5) == (4, ["check(k,", "      3)"])           # a continuation line: from its start
    assert statement_at(source, 2) == (2, ["for k in f(x,", "           2):"])   # a loop: its header, not its body
    assert statement_at(source, 6) == (6, ["y = 2"])
    first, quoted = statement_at(source, 7)
    assert first == 7 and len(quoted) == 10 and quoted[-1] == "..."
    assert statement_at("def f(:\n  y = 2\n", 2) == (2, ["y = 2"])              # does not parse: the line alone
