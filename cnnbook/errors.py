"""What a numpy, torch or Python error usually means, in the learner's language.

``meaning(err)`` reads an error's class and message and, when it is one that learners of this course typically
meet (a Linear layer whose ``in_features`` does not fit the flattened map, float64 input to a float32 layer, an
output size computed with ``/``, a function that forgot its ``return``...), says in a sentence or two what
usually causes it and what to do, in the learner's language; the library's own text (English) is still shown
beside it. Anything else gets ``""``: a guess is never shown.

Used wherever a learner reads an error: the notebook's box for an error that escaped a test cell and the end of
IPython's traceback for an error in any other cell (``cnnbook.feedback``), and the self-check and the feedback
page (``autograde.judge``). Each explanation is a fixed text, never filled from the message: under a hidden
test it says nothing of the hidden inputs. ``tests/test_errors.py`` raises every error for real (numpy and torch
as installed) and checks that its explanation is the one given here.
"""
from __future__ import annotations

import re

from .i18n import N_, _

__all__ = ["meaning", "explanation", "explained_in", "EXPLAINED"]

# (the builtin classes the error may have, the message's pattern, the explanation)
EXPLAINED: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(kinds.split()), re.compile(pattern), text) for kinds, pattern, text in (
        ("RuntimeError", r"mat1 and mat2 shapes cannot be multiplied",
         N_("A Linear layer (or a matrix product) got inputs whose sizes do not fit: its in_features must equal the "
            "number of features that reach it, channels x height x width after flattening. Print x.shape just before "
            "it and work the sizes out layer by layer; a forgotten flatten gives this too.")),
        ("ValueError", r"matmul: Input operand \d+ has a mismatch in its core dimension",
         N_("A matrix product (n, k) @ (k, m) needs the same k on both sides. Print both shapes: one of them is "
            "usually the transpose of what is needed (.T).")),
        ("RuntimeError", r"expected input\[.*\] to have \d+ channels, but got \d+ channels",
         N_("A convolution got another number of channels than its in_channels. Images in PyTorch are "
            "(N, C, H, W): check in_channels against the out_channels of the layer before, and that the input is "
            "not (N, H, W, C) (x.permute(0, 3, 1, 2) moves the channels).")),
        ("RuntimeError ValueError", r"Expected \d+D \(unbatched\) or \d+D \(batched\) input|expected \d+D input "
                                    r"\(got \d+D input\)",
         N_("This layer wants a batch of images, (N, C, H, W) (a convolution or pooling also takes one image, "
            "(C, H, W)): add the missing dimension, x[None] for a batch of one, x[:, None] for one channel.")),
        ("ValueError RuntimeError", r"operands could not be broadcast together|could not broadcast input array "
                                    r"from shape|The size of tensor a \(\d+\) must match the size of tensor b",
         N_("Two arrays whose shapes do not fit were combined element by element (or one was written into a place of "
            "another shape). Print both shapes: sizes are matched from the last axis, and only a size of 1 stretches. "
            "The usual causes: a size off by one, a missing axis (a[:, None] against b pairs every a with every b), "
            "or labels of shape (N,) beside outputs of shape (N, 10).")),
        ("ValueError", r"^shape-mismatch for sum$",
         N_("np.tensordot (or np.dot) sums over axes that must have the same sizes in both arrays, and here they do "
            "not. Print both shapes: a window cut short at the edge (a forgotten padding, a loop one step too long) "
            "or an axis in another order than the filter's is the usual cause.")),
        ("RuntimeError ValueError", r"shape '\[.*\]' is invalid for input of size 0\b|cannot reshape array of size 0 ",
         N_("The array to reshape is empty (size 0): the slice it was cut with found nothing, because it starts at or "
            "past the end of the array (a window or an index past the end, a loop that runs one step too long). "
            "Print the slice's shape and the indices of the loop's last step.")),
        ("RuntimeError ValueError", r"shape '\[.*\]' is invalid for input of size [1-9]|cannot reshape array of "
                                    r"size [1-9]",
         N_("The sizes given to reshape or view do not multiply to the number of elements there are. Print the real "
            "shape and compute the flattened size from it (16 x 5 x 5 = 400, for example).")),
        ("RuntimeError", r"view size is not compatible with input tensor's size and stride",
         N_("view() needs a tensor laid out in one piece in memory, and a transposed or permuted tensor is not: use "
            ".reshape(...) or .flatten(1) instead.")),
        ("RuntimeError", r"Kernel size can't be greater than actual input size|Output size is too small",
         N_("The feature map has become smaller than this layer's window: too much shrinking before it (a stride "
            "or a pooling too many) or a missing padding. Follow the size layer by layer with the output-size "
            "formula.")),
        ("RuntimeError", r"must have the same dtype|Input type \(.*\) and (?:bias|weight) type \(.*\) should be the "
                         r"same|expected scalar type (?:Float|Double) but found (?:Float|Double)",
         N_("The input's number type differs from the layer's: layers hold float32 weights, numpy makes float64 "
            "(torch.from_numpy keeps it) and images are often uint8. Convert the input with .float() or "
            "torch.tensor(x, dtype=torch.float32).")),
        ("RuntimeError", r"expected target dtype to be Long|expected scalar type Long but found",
         N_("The labels given to cross_entropy must be class numbers of an integer type: labels.long() (class "
            "probabilities would be floats of the output's shape).")),
        ("RuntimeError", r"0D or 1D target tensor expected, multi-target not supported",
         N_("cross_entropy wants one class number per example, labels of shape (N,), not (N, 1): labels.view(-1) "
            "or labels.squeeze(1).")),
        ("ValueError", r"Expected input batch_size \(\d+\) to match target batch_size \(\d+\)",
         N_("The network gave another number of rows than there are labels: usually a flatten that mixed the batch "
            "dimension up (x.view(-1, k) with a wrong k). Flatten with x.flatten(1) or x.view(x.size(0), -1).")),
        ("RuntimeError", r"element 0 of tensors does not require grad and does not have a grad_fn",
         N_("backward() was called on a value that depends on no learnable tensor: it was computed under "
            "torch.no_grad(), went through .item(), .detach() or numpy, or nothing in it has requires_grad=True.")),
        ("RuntimeError", r"Trying to backward through the graph a second time",
         N_("backward() went twice through the same computation: in a training loop, compute the output and the "
            "loss again in every step (the forward pass belongs inside the loop).")),
        ("RuntimeError", r"a leaf Variable that requires grad is being used in an in-place operation",
         N_("A parameter (requires_grad=True) was changed in place while autograd watches it: update it inside "
            "`with torch.no_grad():` (w -= lr * w.grad), then reset its gradient.")),
        ("RuntimeError", r"Can't call numpy\(\) on Tensor that requires grad",
         N_("A tensor that autograd tracks cannot become a numpy array: use t.detach().numpy(), or compute it "
            "inside `with torch.no_grad():`.")),
        ("RuntimeError", r"a Tensor with \d+ elements cannot be converted to Scalar",
         N_(".item() (and float()) take a tensor of one element: reduce it first (.sum(), .mean()) or pick one "
            "element.")),
        ("ValueError RuntimeError", r"truth value of an array with more than one element is ambiguous|Boolean "
                                    r"value of Tensor with more than one value is ambiguous",
         N_("An if, and, or or met a whole array: say which you mean with .all() or .any(), or choose element by "
            "element with np.where or np.maximum.")),
        ("ValueError RuntimeError", r"all input arrays must have the same shape|Sizes of tensors must match except "
                                    r"in dimension|all the input array dimensions except for the concatenation",
         N_("Arrays joined with stack, cat or concatenate must have the same shape (apart from the joined axis): "
            "print their shapes.")),
        ("ValueError RuntimeError", r"Attempted to use an uninitialized parameter|Can't access the shape of an "
                                    r"uninitialized parameter",
         N_("A lazy layer (nn.LazyConv2d, nn.LazyLinear, as in d2l.ai's code) has no weights until its first forward "
            "pass, so they could not be read, counted or copied here. Give the layer its input size instead: "
            "nn.Conv2d(in_channels, out_channels, ...), nn.Linear(in_features, out_features).")),
        ("RuntimeError", r"running_mean should contain \d+ elements not \d+",
         N_("A BatchNorm layer got another number of channels than it was made for: BatchNorm2d(C) must follow a "
            "layer with C output channels.")),
        ("ValueError", r"Expected more than 1 value per channel when training",
         N_("BatchNorm in training mode needs more than one example: call model.eval() before trying a single "
            "example, or use a larger batch.")),
        ("IndexError", r"index -?\d+ is out of bounds for (?:axis|dimension)",
         N_("An index past the end of an array: print its shape beside the largest index used. Usually a loop runs "
            "one step too long, rows and columns are swapped, or the array was made smaller than what is written "
            "into it (its size taken from the data or from the wrong axis).")),
        ("TypeError IndexError", r"slice indices must be integers|'float' object cannot be interpreted as an "
                                 r"integer|only integers, slices \(`:`\)",
         N_("A float where Python needs a whole number (an index, a range, a size): / always gives a float. Use // "
            "or int(...), as the output-size formula does: (n + 2p - f) // s + 1.")),
        ("ValueError", r"^(?:not enough|too many) values to unpack \(expected \d+",
         N_("The number of names on the left of = differs from the number of values on the right: a, b, c = f(x) "
            "needs f to return exactly three values (return a, b, c). Print what came back (its type and len): a "
            "value missing from the return line, one too many, or one array unpacked along its first axis (its "
            "rows) give this.")),
        ("ValueError", r"setting an array element with a sequence",
         N_("np.array got lists of different lengths, which make no rectangular array: check the length of every "
            "row you build.")),
        ("TypeError", r"Cannot cast ufunc '\w+' output from dtype\('float\d*'\) to dtype\('u?int",
         N_("A float result was to be written into an integer array (an image of uint8, or np.zeros_like of an "
            "integer input): make the output float, np.zeros(shape) or x.astype(float).")),
        ("TypeError AttributeError", r"'NoneType'",
         N_("A value is None where something else was expected (an array, a model, a number): a function that ends "
            "without `return` (or returns in some branches only) gives None. Check that your function returns its "
            "result.")),
        ("AttributeError TypeError", r"'numpy\.ndarray' object has no attribute '(?:unsqueeze|detach|permute|numel|"
                                     r"requires_grad|backward|float|long|cpu|cuda|to|dim|clamp|contiguous)'|'Tensor' "
                                     r"object has no attribute '(?:astype|copy)'|must be Tensor, not numpy\.ndarray|"
                                     r"got \(numpy\.ndarray",
         N_("A numpy array where a torch tensor is needed, or the other way round: torch.from_numpy(a) (or "
            "torch.tensor(a, dtype=torch.float32)) makes a tensor, t.detach().numpy() an array.")),
        # Code Python cannot read (SyntaxError, IndentationError, TabError): Python's own words, by the slips that
        # cause them. Full-width punctuation is what a Korean (Chinese, Japanese) input method types.
        ("SyntaxError", r"invalid (?:non-printable )?character (?:'.' )?\(?U\+(?:FF[0-5][0-9A-F]|300[0-2]|"
                        r"201[89CD])\b",
         N_("A character typed with a Korean, Chinese or Japanese input method (a full-width （ ） ： ， ＝ or "
            "space) or a curly quote from a document (‘ ’ “ ”) looks like Python's but is not: switch the "
            "keyboard to English, delete it and type it again.")),
        ("SyntaxError", r"invalid non-printable character U\+(?:00A0|200B|FEFF)\b",
         N_("An invisible character is on that line, usually a non-breaking space pasted from a web page or a "
            "document: delete the spaces around where Python points and type them again.")),
        ("SyntaxError", r"^incomplete input",
         N_("Python reached the end of the cell with something still open: a bracket or a string's quotes never "
            "closed, or a line ending with a colon and no block after it. Count the brackets and quotes, or write "
            "the block.")),
        ("SyntaxError", r"'[(\[{]' was never closed",
         N_("A bracket opened on that line is never closed (Python names the line where it opened, not where the "
            "closing one is missing): count the brackets and add the missing one, usually at the end of that "
            "expression.")),
        ("SyntaxError", r"unmatched '[)\]}]'|closing parenthesis '.' does not match opening parenthesis",
         N_("The brackets on that line do not pair up: a closing one with no opening one, or one closed by "
            "another kind, ( by ]. Count them pair by pair.")),
        ("SyntaxError", r"^expected ':'",
         N_("Python expected a colon (:) on that line. A line that starts a block (def, class, if, elif, else, for, "
            "while, with, try) ends with a colon: def f(x):. If the line has its colon already, a word before it "
            "does not belong there: else takes no condition (else if x: and else x > 0: are written elif x:).")),
        ("SyntaxError", r"Maybe you meant '==' (?:or ':=' )?instead of '='",
         N_("A single = stores a value under a name (x = 3); a comparison, in an if, a while or any expression, is "
            "written ==: if f % 2 == 1:. On the left of =, only a name or an element (a[i]) can stand, never a call "
            "or a formula.")),
        ("SyntaxError", r"unterminated (?:triple-quoted )?string literal",
         N_("A string is never closed: end it with the quote it starts with ('...' or \"...\"; a docstring opened "
            "with \"\"\" ends with \"\"\").")),
        ("SyntaxError", r"^unexpected indent",
         N_("This line is indented further than the line before it, and nothing there opens a block: line it up "
            "with the lines around it.")),
        ("SyntaxError", r"^expected an indented block",
         N_("After a line that ends with a colon, the block's lines are indented (4 spaces more). A block cannot "
            "be empty: it needs at least one line, the exercise's code or pass.")),
        ("SyntaxError", r"unindent does not match any outer indentation level|inconsistent use of tabs and spaces",
         N_("This line's indentation matches no block above it: indent every line of a block by the same number of "
            "spaces (4 for each level), with spaces only, never tabs mixed in.")),
        ("SyntaxError", r"'return' outside function",
         N_("return belongs to a function: its line must be indented under the def, like the lines before it.")),
    ))


def meaning(err: BaseException) -> str:
    """What ``err`` usually means, in the learner's language, or "" when it is not one of :data:`EXPLAINED`. Its
    builtin classes decide (numpy's ``UFuncTypeError`` is a ``TypeError``, as ``except TypeError`` sees it); an
    error the grader brought back from the learner's kernel is read by the message it had there."""
    try:
        kinds = {cls.__name__ for cls in type(err).__mro__ if cls.__module__ == "builtins"}
        message = str.__str__(str(getattr(err, "learner_message", None) or err))[:2000]   # a plain str, not theirs
    except Exception:  # noqa: BLE001 - an error whose text cannot be read (its __str__ raises) is not explained
        return ""
    text = explanation(kinds, message)
    return _(text) if text else ""


def explanation(kinds: set[str] | str, message: str) -> str:
    """The explanation (English, the source) of an error of these builtin classes with this message, or "". A
    class given by its name (as a kernel reports it: ``"IndentationError"``) counts with the builtin classes above
    it (``SyntaxError``)."""
    if isinstance(kinds, str):
        import builtins

        cls = getattr(builtins, kinds, None)
        kinds = ({c.__name__ for c in cls.__mro__ if c.__module__ == "builtins"}
                 if isinstance(cls, type) and issubclass(cls, BaseException) else {kinds})
    for names, pattern, text in EXPLAINED:
        if names & kinds and pattern.search(message[:2000]):
            return text
    return ""


def explained_in(message: str) -> str | None:
    """The explanation (in English, the source) that a failure message shown to a learner carries on a line of its
    own ("What it usually means: ..."), in any language of the course, else None: the class report counts what
    errors usually meant across the class, whatever language each learner read them in. Text the learner's code
    raised stays on one line after "your code raised" (``autograde.judge.one_line``), so it never starts a line."""
    from .i18n import LANGUAGES, translation

    said = {}
    for lang in LANGUAGES:
        head = translation("What it usually means: {meaning}", lang).split("{meaning}")[0]
        for _kinds, _pattern, english in EXPLAINED:
            said[head + translation(english, lang)] = english
    for line in str(message).splitlines():
        if line.strip() in said:
            return said[line.strip()]
    return None
