"""Translations of the lessons: gettext catalogs beside the English source, and the notebooks built from them.

The English notebook ``solutions/NN_slug/NN_slug.ipynb`` stays the only source. Its translation into a
language lives beside it in ``solutions/NN_slug/<lang>.po`` (gettext, read and written with Babel), one entry:

- per markdown cell that is not an nbgrader cell (``msgctxt`` = the cell id, ``msgid`` = the whole cell);
- per learner-visible string literal of a code cell that is not an nbgrader cell (``msgctxt`` = the cell id,
  ``msgid`` = the text between the quotes, exactly as written in the code, f-string fields included). A
  string is learner-visible when a lesson passes it to ``print``, a plot's ``title``/``suptitle``/
  ``set_title``/``xlabel``/``ylabel``/``set_xlabel``/``set_ylabel``/``text``/``annotate``, to ``Markdown(...)``
  (``display(Markdown(f"..."))``), or as a ``label=``/``title=``/``description=``/``desc=`` (tqdm) keyword: that
  is how a lesson marks a string for translation. Adjacent literals (implicit concatenation, f-strings
  included) are one entry;
- per author's sentence in a test cell that a learner reads when a check fails (``hint=``, the names of
  ``mistakes=``, the slips of ``known_errors``, ``hidden_case(...)``, the explanation and ``slip=`` of ``check_true``, the
  ``expected=`` words of ``check_type`` and ``check_parts``, the ``why=`` of ``answer_of`` and ``raised_instead``, and a
  check's name when it is written in words, see below, also when the check takes it from a variable assigned a
  string, ``call = "..."``; ``msgctxt`` = the test cell id). Test cells are never changed: these are
  translated when the check runs (``cnnbook.i18n.lesson_text``). A sentence is one literal or f-string, or either
  branch of ``a if c else b``; one built with ``+`` is no entry (its pieces are never shown alone): write one f-string.

A check's name (the first argument of a ``check_*`` call or of ``passed``, which starts every failure message)
is translated when it is natural language, by this rule (:func:`is_natural_name`): its first word (up to a
space) is letters only, optionally followed by a colon, and a second word follows that is not an operator
(it does not start with ``= + - * / % < >``), or it is a call followed by such words (``"conv_params(5, 3,
10) returns an int"``, ``"AlexNet(): the logits"``; the translation keeps the call as written), or two names
joined by "and" (``"corners_to_centres and centres_to_corners"``), or a name followed by words in parentheses
(``"who_did_it (form only: ...)"``), or a function's name or a number followed by words (``"cosine_lr returns a
Python float"``, ``"25 Adam steps on {shape}"``), or a call with an argument in words (``"nms(<no boxes>)"``,
``"box_iou(a box, three boxes that do not touch it)"``). So ``"the final
weights"``, ``"parameters of AlexNet()"`` and ``"x after conv2d (it must stay unchanged)"`` are translated; names
that are only code, like
``"pool2d_forward(x, 2, 2, 'max')"``, ``"nms"``, ``"{call} returns an int"`` or ``"w - lr * gradient"``, stay as
written. The author's other sentences (hints, slips, hidden cases, ``check_true``'s explanation) are entries
whether plain or f-strings (``"got {near_max!r}: exp(1000) overflows"``), matched the same way. An f-string name is one entry whose ``msgid`` is the f-string's text as written, fields included
(``parameters of AlexNet({n_classes})``), flagged ``f-string``; its translation must use the same fields
(``AlexNet({n_classes})의 파라미터 수``), and when the check fails ``lesson_text`` recognises the formatted
name by the English text around the fields and puts the fields' values into the translation. An f-string with
a backslash in its text stays English. The learner's ``checks.po`` holds only the names of visible checks,
like every other test sentence.

nbgrader cells (answers, tests, hand-graded answers) keep their source, metadata and checksums in every edition,
so a translated notebook is graded exactly like the English one.

When the English text of an entry changes, ``update_catalog`` keeps the old translation but marks it
``fuzzy`` (stale; ``git diff`` of the catalog shows the old and the new English side by side); a fuzzy or empty entry is not used, and the
notebook shows the English text there. ``COMPLETE`` declares the lessons whose translation must be complete
and current: the sync tests fail for those (tests/test_i18n.py).

Commands: ``python -m autograde i18n update [lessons]`` (refresh the catalogs from the English source) and
``python -m autograde i18n coverage`` (a table: translated / stale / missing per lesson).
"""
from __future__ import annotations

import ast
import copy
import difflib
import functools
import hashlib
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnnbook.i18n import N_

from .lessons import Lesson

LANGS = ("ko",)
# Lessons whose translation is declared complete: every entry must be translated and current (the sync tests).
COMPLETE = {"ko": {"01_history", "02_convolution", "03_padding_stride", "04_parameters", "05_pooling", "06_lenet", "07_architectures", "08_transfer", "09_losses_optimisers", "10_detection"}}
LANG_NAMES = {"ko": "Korean"}

VISIBLE_CALLS = {"print", "title", "suptitle", "set_title", "xlabel", "ylabel", "set_xlabel", "set_ylabel",
                 "text", "annotate", "set_text", "Label", "Markdown", "legend",
                 "show_matrix", "show_images", "show_maps",          # the course's figure helpers: their titles
                 "set_xticks", "set_yticks",                          # a figure's tick labels (after the positions)
                 "padded"}                                            # cnnbook.i18n.padded: a table's aligned label
VISIBLE_KEYWORDS = {"label", "title", "description", "xlabel", "ylabel", "desc", "titles", "texts", "suptitle"}
TEST_KEYWORDS = {"hint", "explanation", "loop_message", "why", "slip"}     # why=: answer_of, raised_instead; slip=: check_true
TYPE_WORDS = {"check_type": "expected", "check_parts": "expected"}   # the words of what a type check expected


def catalog_path(lesson: Lesson, lang: str) -> Path:
    return lesson.solutions / lesson.slug / f"{lang}.po"


def translated_path(out_dir: Path, lang: str, slug: str) -> Path:
    """Where release writes a lesson's translated student notebook: ``notebooks/<lang>/NN_slug/NN_slug.ipynb``."""
    return out_dir / lang / slug / f"{slug}.ipynb"


def is_nbgrader_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    return any(meta.get(key) for key in ("grade", "solution", "locked", "task"))


@dataclass(frozen=True)
class Entry:
    context: str          # the cell id
    msgid: str            # the English text
    kind: str             # "markdown", "code", "test" or "answer"
    fstring: bool = False  # a test cell's f-string (a check's name): matched with its fields when it is shown


FSTRING_FLAG = "f-string"
NAME_OPERATORS = "=+-*/%<>"
NAMED_CALLS = {"passed", "known_errors", "answer_of", "raised_instead"}  # and every check_* function: their first argument names the check
# Words that join code, not sentences: "box_iou and nms(x)", "f(lambda x y)" are code
CODE_WORDS = {"and", "or", "not", "in", "is", "if", "else", "for", "lambda", "vs"}


def is_natural_name(text: str) -> bool:
    """Whether a check's name is written in words (translated) rather than as code (kept as written): its first
    word is letters only (a colon may follow) and a second word follows that does not start with an operator;
    or it is a call followed by such words (``conv_params(5, 3, 10) returns an int``, ``AlexNet(): the
    logits``, ``pool2d_forward(x, 3, 2)   (windows overlap)``, also after an index or an attribute of what it
    returns: ``conv2d(x, w, b, 1, 2)[0, 7, 0, 0]   (a corner: ...)``), whose words are translated around the call;
    or two names joined by "and" (``corners_to_centres and centres_to_corners``), or a name followed by words in
    parentheses (``who_did_it (form only: the facts are checked when graded)``); or a function's name or a number
    followed by words (``cosine_lr returns a Python float``, ``25 Adam steps on {shape}``); or a call with an
    argument described in words (``box_iou(a box, three boxes that do not touch it)``, ``nms(<no boxes>)``).
    ``text`` is the name as written (an f-string's text, fields included). See the module's documentation."""
    def in_words(rest: str) -> bool:
        words = rest.split()
        return len(words) >= 2 and re.fullmatch(r"[A-Za-z]+:?", words[0]) is not None \
            and words[1][0] not in NAME_OPERATORS

    if in_words(text):
        return True
    # a function's name or a number followed by words ("cosine_lr returns a Python float", "l2_penalty with
    # strength 0", "adagrad_update: the third weight ...", "25 Adam steps on {shape}"): never "x and y", "x - y"
    lead = re.match(r"(?:[A-Za-z_][\w.]*|\d+):?\s+", text)
    if lead and in_words(text[lead.end():]) and text[lead.end():].split()[0] not in CODE_WORDS:
        return True
    # a call whose arguments are described in words ("box_iou(a box, three boxes that do not touch it)",
    # "nms(<no boxes>)", "pool2d_forward(int x, 2, 2, 'max')"): an argument of two words or more
    whole = re.fullmatch(r"[A-Za-z_][\w.]*\((.*)\)", text, re.S)
    if whole and any(_described(part) for part in whole.group(1).split(",")):
        return True
    name = re.match(r"[A-Za-z_]\w*", text)
    if name and re.fullmatch(r"\s+and\s+[A-Za-z_]\w*", text[name.end():]):
        return True                                  # "corners_to_centres and centres_to_corners"
    if name and re.match(r"\s+\(", text[name.end():]) and text.rstrip().endswith(")"):
        return in_words(text[name.end():].lstrip().removeprefix("("))     # "who_did_it (form only: ...)"
    call = re.match(r"[A-Za-z_][\w.]*\(", text)
    if not call:
        return False
    depth, end = 0, None
    for k in range(call.end() - 1, len(text)):
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            end = k + 1
            break
    if end is None:
        return False
    # what the call gives, indexed or read ("conv2d(x, w, b, 1, 2)[0, 7, 0, 0]   (a corner: ...)", "f(x).shape is
    # ..."), then the words
    rest = text[end:]
    trail = re.match(r"(?:\[[^\[\]]*\]|\.\w+)*", rest)
    return in_words(rest[trail.end() if trail else 0:].lstrip(": ").removeprefix("("))


def _described(argument: str) -> bool:
    """An argument written in words: two words ("a box", "<no boxes>", "int x") or a count and a word ("<2 boxes>",
    "21 boxes apart"), never code ("x", "lambda x y", "2 if a else b")."""
    found = re.match(r"\s*<?\s*(?:\d+ ([A-Za-z]{2,})\b|([A-Za-z]+) [A-Za-z]+\b)", argument)
    return found is not None and (found.group(1) or found.group(2)) not in CODE_WORDS


def _is_named_call(name: str) -> bool:
    return name.startswith("check_") or name in NAMED_CALLS


# ---------------------------------------------------------------------------------------------- extraction
def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _shown(node: ast.AST) -> list:
    """The string literals an expression that is shown is made of: the literal itself, the strings joined with
    ``+``, both branches of ``a if c else b``, and the items of a list or tuple (a list of titles)."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return [node]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _shown(node.left) + _shown(node.right)
    if isinstance(node, ast.IfExp):
        return _shown(node.body) + _shown(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [item for elt in node.elts for item in _shown(elt)]
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return _shown(node.elt)                     # [f"seed {k}" for k in range(6)]: the one text made each time
    return []


def _string_nodes(tree: ast.AST):
    """The string literal nodes a learner reads (see the module's documentation), in source order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in VISIBLE_KEYWORDS
                                                for t in node.targets):
            found += _shown(node.value)             # label = f"...", title = "..." ...
        if not isinstance(node, ast.Call):
            continue
        if _call_name(node) == "padded":            # padded(label, width, align): the label only
            found += _shown(node.args[0]) if node.args else []
        elif _call_name(node) in VISIBLE_CALLS:
            found += [item for arg in node.args for item in _shown(arg)]
        found += [item for kw in node.keywords if kw.arg in VISIBLE_KEYWORDS for item in _shown(kw.value)]
    found = [n for n in found if not isinstance(n, ast.Constant) or isinstance(n.value, str)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _line_offsets(source: str) -> list[int]:
    offsets, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line.encode("utf-8"))
        offsets.append(total)
    return offsets


@dataclass
class Literal:
    start: int            # character offsets of the whole token in the cell's source
    end: int
    prefix: str           # "", "f", "rb", ...
    quote: str            # '"', "'", '"""' or "'''"
    body: str             # the text between the quotes, as written

    @property
    def is_f(self) -> bool:
        return "f" in self.prefix.lower()


def _pieces(text: str):
    """``(prefix, quote, body)`` of each string token of one string expression's source (an implicit
    concatenation has several), or None when it holds anything else (a comment between the pieces)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO("(" + text + ")").readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return None
    tokens = tokens[1:-1]                           # the parentheses
    if not tokens or any(t.type != tokenize.STRING for t in tokens):
        return None
    out = []
    for token in tokens:
        i = 0
        while token.string[i] not in "'\"":
            i += 1
        prefix, rest = token.string[:i], token.string[i:]
        quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[0]
        out.append((prefix, quote, rest[len(quote):-len(quote)]))
    return out


def visible_literals(source: str) -> list[Literal]:
    """Learner-visible string literals of a code cell (see the module's documentation).

    An implicit concatenation (``"a" "b"``, ``f"..." "..."`` over several lines) is one literal: its text is the
    pieces' texts joined (in an f-string, the braces of a plain piece doubled, as one f-string would spell
    them), and the translation replaces all pieces with one string. Pieces with different quotes or a mix of raw
    and plain strings are left in English."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return _literals_of(source, _string_nodes(tree))


def _literals_of(source: str, nodes) -> list[Literal]:
    """The :class:`Literal` of each string node of ``source`` (an unusable one, see above, left out)."""
    if not nodes:
        return []
    data = source.encode("utf-8")
    offsets = _line_offsets(source)
    out = []
    for node in nodes:
        if node.end_lineno is None or node.end_col_offset is None:
            continue
        b0 = offsets[node.lineno - 1] + node.col_offset
        b1 = offsets[node.end_lineno - 1] + node.end_col_offset
        text = data[b0:b1].decode("utf-8")
        pieces = _pieces(text)
        if not pieces:
            continue
        prefixes = [prefix.lower() for prefix, _, _ in pieces]
        if any("b" in p for p in prefixes) or len({q for _, q, _ in pieces}) != 1 \
                or len({"r" in p for p in prefixes}) != 1:
            continue
        if len(pieces) == 1:
            prefix, quote, body = pieces[0]
        else:
            is_f = any("f" in p for p in prefixes)
            prefix = ("r" if "r" in prefixes[0] else "") + ("f" if is_f else "")
            quote = pieces[0][1]
            body = "".join(b if "f" in p or not is_f else b.replace("{", "{{").replace("}", "}}")
                           for p, (_, _, b) in zip(prefixes, pieces))
        start = len(data[:b0].decode("utf-8"))
        out.append(Literal(start, start + len(text), prefix, quote, body))
    return out


SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"


def _solution_lines(source: str) -> set[int]:
    """The line numbers (1-based) of an answer cell's ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` regions,
    markers included: what nbgrader replaces by the stub on release."""
    inside, out = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if not inside and SOLUTION_BEGIN in line:
            inside = True
        if inside:
            out.add(number)
        if inside and SOLUTION_END in line:
            inside = False
    return out


def answer_literals(source: str) -> list[Literal]:
    """The statement of an exercise in its answer cell: the docstrings of the functions and classes the learner
    completes (those outside the solution, so in the released cell too)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    hidden = _solution_lines(source)
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
                and isinstance(node.body[0].value.value, str) and node.body[0].lineno not in hidden:
            nodes.append(node.body[0].value)
    return _literals_of(source, sorted(nodes, key=lambda n: (n.lineno, n.col_offset)))


def is_answer_cell(cell) -> bool:
    """An autograded exercise's answer cell: code the learner writes (nbgrader ``solution``, not a grade cell)."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    return cell.get("cell_type") == "code" and bool(meta.get("solution")) and not meta.get("grade")


def check_sentences(source: str) -> list[str]:
    """The author's sentences of a test cell that a learner reads when a check fails (f-string names included,
    as written: see :func:`check_entries`)."""
    return [text for text, _ in check_entries(source)]


def check_entries(source: str) -> list[tuple[str, bool]]:
    """``(text, is an f-string)`` of each author's sentence of a test cell that a learner reads when a check
    fails: hints, slips' names, hidden cases' sentences, ``check_true`` explanations, and the checks' names that
    are natural language (:func:`is_natural_name`; an f-string's text as written, fields included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[tuple[int, int, str, bool]] = []

    def add(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
            found.append((node.lineno, node.col_offset, node.value, False))
        elif isinstance(node, ast.JoinedStr):
            sentences.append(node)
        elif isinstance(node, ast.IfExp):                # one sentence or another: each is shown whole
            add(node.body)
            add(node.orelse)

    names: list[ast.JoinedStr] = []
    sentences: list[ast.JoinedStr] = []               # f-string hints, slips, cases, explanations: always words
    # a check's name kept in a variable (call = "conv2d(...)   (a stride that does not fit)", then check_true(call,
    # ...)): every string assigned to a name that some check takes as its name is read as that check's name
    named_by_variable = {node.args[0].id for node in ast.walk(tree) if isinstance(node, ast.Call)
                         and _is_named_call(_call_name(node)) and node.args and isinstance(node.args[0], ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.JoinedStr)) \
                and any(isinstance(t, ast.Name) and t.id in named_by_variable for t in node.targets):
            first: ast.expr = node.value
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and is_natural_name(first.value):
                add(first)
            elif isinstance(first, ast.JoinedStr):
                names.append(first)
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        for kw in node.keywords:
            if kw.arg in TEST_KEYWORDS or TYPE_WORDS.get(name) == kw.arg:
                add(kw.value)
            elif kw.arg == "mistakes" and isinstance(kw.value, ast.Dict):
                for key in kw.value.keys:
                    add(key)
        if name == "hidden_case" and node.args:
            add(node.args[0])
        if name == "known_errors" and len(node.args) >= 2 and isinstance(node.args[1], ast.Dict):
            for value in node.args[1].values:
                add(value)
        if name == "check_true" and len(node.args) >= 3:
            add(node.args[2])
        if name == "raised_instead" and len(node.args) >= 3:
            add(node.args[2])
        if _is_named_call(name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and is_natural_name(first.value):
                add(first)
            elif isinstance(first, ast.JoinedStr):
                names.append(first)
    for node in names + sentences:
        lit = next(iter(_literals_of(source, [node])), None)     # None: pieces that cannot be one entry
        if lit is not None and lit.is_f and "\\" not in lit.body and "r" not in lit.prefix.lower() \
                and (node in sentences or is_natural_name(lit.body)):
            found.append((node.lineno, node.col_offset, lit.body, True))
    seen, out = set(), []
    for _, _, text, is_f in sorted(found):
        if text not in seen:
            seen.add(text)
            out.append((text, is_f))
    return out


def entries(nb) -> list[Entry]:
    """Every translatable text of a notebook, in order."""
    out: list[Entry] = []
    for cell in nb.cells:
        cid = cell.get("id") or ""
        if cell.cell_type == "markdown" and not is_nbgrader_cell(cell):
            if cell.source.strip():
                out.append(Entry(cid, cell.source, "markdown"))
        elif cell.cell_type == "code" and not is_nbgrader_cell(cell):
            seen = set()
            for lit in visible_literals(cell.source):
                if lit.body.strip() and lit.body not in seen:
                    seen.add(lit.body)
                    out.append(Entry(cid, lit.body, "code"))
        elif cell.cell_type == "code" and (cell.metadata.get("nbgrader", {}) or {}).get("grade"):
            out += [Entry(cid, text, "test", is_f) for text, is_f in check_entries(cell.source)]
        elif is_answer_cell(cell):
            seen = set()
            for lit in answer_literals(cell.source):
                if lit.body.strip() and lit.body not in seen:
                    seen.add(lit.body)
                    out.append(Entry(cid, lit.body, "answer"))
    return out


# ---------------------------------------------------------------------------------------------- catalogs
KIND_COMMENTS = {"markdown": "markdown cell", "code": "string in a code cell",
                 "test": "shown when a check of this test cell fails",
                 "answer": "the exercise's statement (a docstring) in an answer cell"}


def read_catalog(path: Path, lang: str = "ko"):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    if not path.is_file():
        return Catalog(locale=lang)
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def write_catalog(catalog, path: Path) -> None:
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    # Babel cannot read back the previous English (``#| msgid``) of a multi-line entry, so it is not written:
    # a stale entry keeps its old translation marked fuzzy, and ``git diff`` shows what the English was.
    write_po(buffer, catalog, width=0, no_location=True, omit_header=False, include_previous=False,
             ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())


def update_catalog(lesson: Lesson, lang: str = "ko") -> Path:
    """Bring ``solutions/NN_slug/<lang>.po`` in line with the English source; return its path.

    An entry whose English is unchanged keeps its translation. An entry whose English changed keeps the old
    translation of the same cell (the closest old text there), marked fuzzy. New
    entries are empty; entries whose English is gone are dropped (git keeps them).
    """
    from babel.messages.catalog import Catalog

    path = catalog_path(lesson, lang)
    old = read_catalog(path, lang)
    nb = nbformat.read(lesson.source, as_version=4)
    new = Catalog(locale=lang, project=f"CNN course workbook, lesson {lesson.slug}", version="1",
                  charset="utf-8", fuzzy=False)
    by_context: dict[str, list] = {}
    for message in old:
        if message.id:
            by_context.setdefault(message.context or "", []).append(message)
    current = entries(nb)
    used: set[tuple[str, str]] = {(e.context, e.msgid) for e in current}     # old texts still current: kept
    for entry in current:
        previous = old.get(entry.msgid, context=entry.context)
        comments = [KIND_COMMENTS[entry.kind]]
        mark = {FSTRING_FLAG} if entry.fstring else set()
        if previous is not None and previous.string:
            new.add(entry.msgid, previous.string, context=entry.context, auto_comments=comments,
                    flags=(set(previous.flags) - {FSTRING_FLAG}) | mark, previous_id=list(previous.previous_id or []),
                    user_comments=list(previous.user_comments))
            used.add((entry.context, entry.msgid))
            continue
        candidates = [m for m in by_context.get(entry.context, [])
                      if m.string and (entry.context, m.id) not in used and m.id != entry.msgid]
        closest = difflib.get_close_matches(entry.msgid, [m.id for m in candidates], n=1, cutoff=0.0)
        if closest:
            stale = next(m for m in candidates if m.id == closest[0])
            used.add((entry.context, stale.id))
            new.add(entry.msgid, stale.string, context=entry.context, auto_comments=comments, flags={"fuzzy"} | mark,
                    previous_id=stale.id, user_comments=list(stale.user_comments))
        else:
            new.add(entry.msgid, "", context=entry.context, auto_comments=comments, flags=mark)
    write_catalog(new, path)
    return path


def current_translations(catalog) -> dict[tuple[str, str], str]:
    """``{(cell id, English): translation}`` of the entries that are translated and not fuzzy."""
    return {(m.context or "", m.id): str(m.string) for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


# ---------------------------------------------------------------------------------------------- building
class TranslationProblem(ValueError):
    pass


def _shape_of_code(source: str) -> str:
    """The code with every string's text blanked and f-string fields as a sorted multiset: equal shapes mean
    the code is the same apart from the words of its strings."""

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node):
            return ast.Constant("") if isinstance(node.value, str) else node

        def visit_JoinedStr(self, node):
            fields = [self.visit(v) for v in node.values if isinstance(v, ast.FormattedValue)]
            fields.sort(key=ast.dump)
            return ast.JoinedStr(values=fields)

    return ast.dump(Blank().visit(ast.parse(source)))


def same_code(english: str, translated: str) -> bool:
    """Whether two code cells differ at most in the words of their string literals."""
    if english == translated:
        return True
    try:
        return _shape_of_code(english) == _shape_of_code(translated)
    except SyntaxError:
        return False


def translate_code(source: str, context: str, table: dict[tuple[str, str], str], literals_of=None) -> str:
    """A code cell with its learner-visible strings translated (those with a current translation);
    ``literals_of`` finds them (:func:`visible_literals`, or :func:`answer_literals` in an answer cell)."""
    literals = (literals_of or visible_literals)(source)
    out, last = [], 0
    for lit in literals:
        text = table.get((context, lit.body))
        if text is None:
            continue
        if len(lit.quote) == 1 and ("\n" in text or lit.quote in text.replace("\\" + lit.quote, "")):
            raise TranslationProblem(f"cell {context}: the translation of {lit.body!r} breaks the string's "
                                     f"quotes ({lit.quote}) or spans lines")
        out += [source[last:lit.start], f"{lit.prefix}{lit.quote}{text}{lit.quote}"]
        last = lit.end
    result = "".join(out) + source[last:]
    if result != source and not same_code(source, result):
        raise TranslationProblem(f"cell {context}: a translated string changes the code (an f-string field "
                                 "differs, or the string does not parse)")
    return result


def translate_notebook(nb, catalog, lang: str = "ko"):
    """A copy of ``nb`` with every current translation of ``catalog`` applied; nbgrader cells untouched."""
    table = current_translations(catalog)
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if is_answer_cell(cell):
            translate_answer(cell, table, lang)
            continue
        if is_nbgrader_cell(cell):
            continue
        cid = cell.get("id") or ""
        if cell.cell_type == "markdown" and (cid, cell.source) in table:
            cell.source = table[(cid, cell.source)]
        elif cell.cell_type == "code":
            cell.source = translate_code(cell.source, cid, table)
    from .colab import localise

    localise(out, lang)             # the Colab set-up cell's comment (its code is the English edition's)
    out.metadata["cnnbook"] = {**dict(out.metadata.get("cnnbook", {})), "language": lang}
    return out


# The answer cells' stub (``ClearSolutions.code_stub`` of nbgrader_config.py): its words, translated through the
# package catalog (cnnbook/locale/<lang>/LC_MESSAGES/cnnbook.po) in each edition; a test checks they are the stub's.
STUB_WORDS = (N_("YOUR CODE HERE"), N_("Replace this line with your answer, then run the test cell below."))


@functools.lru_cache(maxsize=None)
def code_stub() -> str:
    """The stub nbgrader puts in place of a solution (nbgrader_config.py's ``ClearSolutions.code_stub``)."""
    from traitlets.config.loader import PyFileConfigLoader

    from .lessons import ROOT

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return str(config.ClearSolutions.code_stub["python"])


def translated_stub(lang: str) -> str:
    from cnnbook.i18n import translation

    text = code_stub()
    for words in STUB_WORDS:
        text = text.replace(words, translation(words, lang))
    return text


def translate_answer(cell, table: dict[tuple[str, str], str], lang: str) -> None:
    """Translate an answer cell in place: its docstrings (the exercise's statement, ``answer`` entries) and the
    stub's words. The code stays the same (:func:`same_code`), so the learner's answer is graded alike; the
    cell's nbgrader checksum is the translated cell's, as nbgrader computes it for the cell it releases."""
    source = translate_code(cell.source, cell.get("id") or "", table, answer_literals)
    english, translated = code_stub().splitlines(), translated_stub(lang).splitlines()
    if len(english) == len(translated):
        lines = []
        for line in source.splitlines(keepends=True):
            body = line.strip()
            if body in english:
                indent = line[:len(line) - len(line.lstrip())]
                line = indent + translated[english.index(body)].strip() + ("\n" if line.endswith("\n") else "")
            lines.append(line)
        source = "".join(lines)
    if source != cell.source and not same_code(cell.source, source):
        raise TranslationProblem(f"cell {cell.get('id')}: the translated stub changes the code")
    if source != cell.source:
        cell.source = source
        meta = cell.metadata.get("nbgrader", {})
        if "checksum" in meta:
            from nbgrader.utils import compute_checksum

            meta["checksum"] = compute_checksum(cell)


def build_translations(lessons: list[Lesson], staging: Path, english: Path) -> dict[str, Path]:
    """Write ``staging/<lang>/<slug>/<slug>.ipynb`` and the learner's catalog ``staging/<lang>/<slug>/checks.po``
    (see :func:`learner_catalog`) for every lesson that has a ``<lang>.po``.

    ``english`` holds the English student notebooks just released (``<slug>/<slug>.ipynb``). Returns the
    written files keyed like the release manifest (``"ko/01_history/01_history.ipynb"``).
    """
    written = {}
    for lesson in lessons:
        for lang in LANGS:
            path = catalog_path(lesson, lang)
            if not path.is_file():
                continue
            nb = nbformat.read(english / lesson.slug / f"{lesson.slug}.ipynb", as_version=4)
            catalog = read_catalog(path, lang)
            target = translated_path(staging, lang, lesson.slug)
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(translate_notebook(nb, catalog, lang), target)
            written[target.relative_to(staging).as_posix()] = target
            learner = learner_catalog_path(staging, lang, lesson.slug)
            write_catalog(learner_catalog(nb, catalog, lesson.slug, lang), learner)
            written[learner.relative_to(staging).as_posix()] = learner
    return written


# ---------------------------------------------------------------------------------------------- the learner's catalog
LEARNER_CATALOG = "checks.po"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def learner_catalog_path(out_dir: Path, lang: str, slug: str) -> Path:
    """Where release writes the translations a learner's visible checks need: ``notebooks/<lang>/NN_slug/checks.po``."""
    return out_dir / lang / slug / LEARNER_CATALOG


def split_hidden(source: str) -> tuple[str, list[str]]:
    """A test cell's source as nbgrader releases it (every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``
    region removed, marker lines included), and the removed regions' code."""
    visible: list[str] = []
    hidden: list[list[str]] = []
    inside = False
    for line in source.splitlines(keepends=True):
        if not inside and HIDDEN_BEGIN in line:
            inside = True
            hidden.append([])
        elif inside and HIDDEN_END in line:
            inside = False
        elif inside:
            hidden[-1].append(line)
        else:
            visible.append(line)
    return "".join(visible), ["".join(part) for part in hidden]


def learner_catalog(released, catalog, slug: str, lang: str = "ko"):
    """The translations of the sentences a learner's *visible* checks can show, and nothing else.

    ``released`` is the English student notebook (nbgrader has removed the hidden tests from it), so every
    sentence here is one the learner can already read in English; ``catalog`` is the lesson's full catalog
    (``solutions/NN_slug/<lang>.po``, never released: its test entries quote hidden tests). A sentence that a
    visible and a hidden check share is here, a sentence only a hidden check uses is not. Markdown and code
    strings are translated in the notebook itself and so are not repeated here.
    """
    from babel.messages.catalog import Catalog

    table = current_translations(catalog)
    out = Catalog(locale=lang, project=f"CNN course workbook, lesson {slug}: the visible checks", version="1",
                  charset="utf-8", fuzzy=False, creation_date=catalog.creation_date,
                  revision_date=catalog.revision_date)
    for cell in released.cells:
        if not (cell.get("metadata", {}).get("nbgrader", {}) or {}).get("grade") or cell.cell_type != "code":
            continue
        cid = cell.get("id") or ""
        visible, _hidden = split_hidden(cell.source)     # nothing is hidden in a released notebook; kept safe anyway
        for text, is_f in check_entries(visible):
            if (cid, text) in table and out.get(text, context=cid) is None:
                out.add(text, table[(cid, text)], context=cid, auto_comments=[KIND_COMMENTS["test"]],
                        flags={FSTRING_FLAG} if is_f else set())
    return out


def hidden_only_sentences(nb) -> set[str]:
    """The author's sentences that only a hidden part of a test cell uses (not a visible part of any cell of ``nb``):
    what a learner must never be given, in English or translated."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code" or not (cell.metadata.get("nbgrader", {}) or {}).get("grade"):
            continue
        shown, parts = split_hidden(cell.source)
        visible.update(check_sentences(shown))
        hidden.update(set(check_sentences(cell.source)) - set(check_sentences(shown)))
        for part in parts:
            hidden.update(check_sentences(_dedent_code(part)))
    return hidden - visible


def _dedent_code(code: str) -> str:
    import textwrap

    return textwrap.dedent(code)


_TRANSLATED_SOURCES: dict[tuple, list[str]] = {}


def translated_sources(source, folder: Path) -> list[str]:
    """The code cells of every translated edition of ``source`` (the catalogs in ``folder``): the course's own
    code, as the grader must recognise it in a translated notebook. Kept per process for the same source text and
    catalogs: a worker grading a class translates each lesson once, not once per submission."""
    out = []
    for lang in LANGS:
        path = folder / f"{lang}.po"
        try:
            stat = path.stat()
        except OSError:
            continue
        text = "\0".join(f"{c.get('cell_type')}:{c.get('source', '')}" for c in source.cells)
        key = (str(path), stat.st_mtime_ns, stat.st_size,
               hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
        if key not in _TRANSLATED_SOURCES:
            try:
                nb = translate_notebook(source, read_catalog(path, lang), lang)
            except (TranslationProblem, ValueError, OSError):
                _TRANSLATED_SOURCES[key] = []
            else:
                _TRANSLATED_SOURCES[key] = [c.source for c in nb.cells if c.get("cell_type") == "code"]
        out += _TRANSLATED_SOURCES[key]
    return out


def translated_solution(lesson: Lesson, lang: str = "ko"):
    """The lesson's source (solutions and all) in ``lang``: the translated solution view."""
    nb = nbformat.read(lesson.source, as_version=4)
    return translate_notebook(nb, read_catalog(catalog_path(lesson, lang), lang), lang)


def fields_of(text: str) -> set[str]:
    """The fields (``{expression}``) of an f-string's text."""
    from cnnbook.i18n import fstring_fields

    return set(fstring_fields(text))


# ---------------------------------------------------------------------------------------------- coverage
@dataclass
class Coverage:
    slug: str
    lang: str
    total: int = 0
    current: int = 0
    stale: int = 0
    missing: int = 0
    words: int = 0                  # English words still without a current translation
    problems: list[str] = field(default_factory=list)

    @property
    def declared(self) -> bool:
        return self.slug in COMPLETE.get(self.lang, set())

    @property
    def percent(self) -> float:
        return 100.0 * self.current / self.total if self.total else 100.0


def coverage(lesson: Lesson, lang: str = "ko") -> Coverage:
    """How much of a lesson's English has a current translation (entries of the English source)."""
    report = Coverage(lesson.slug, lang)
    nb = nbformat.read(lesson.source, as_version=4)
    catalog = read_catalog(catalog_path(lesson, lang), lang)
    for entry in entries(nb):
        report.total += 1
        message = catalog.get(entry.msgid, context=entry.context)
        if message is not None and message.string and not message.fuzzy:
            report.current += 1
            if entry.fstring and fields_of(str(message.string)) != fields_of(entry.msgid):
                report.problems.append(f"cell {entry.context}: the translation of the check name {entry.msgid!r} "
                                       "must use the same fields")
            continue
        fuzzy = message is not None and message.string and message.fuzzy
        stale_in_cell = any(m.context == entry.context and m.string for m in catalog if m.id)
        if fuzzy or stale_in_cell:
            report.stale += 1
        else:
            report.missing += 1
        report.words += len(entry.msgid.split())
    try:
        translated_solution(lesson, lang)
    except TranslationProblem as err:
        report.problems.append(str(err))
    return report


def format_coverage(reports: list[Coverage]) -> str:
    lines = [f"{'lesson':<20} {'lang':<4} {'entries':>7} {'current':>7} {'stale':>6} {'missing':>7} "
             f"{'words left':>10} {'done':>6}  declared complete"]
    for r in reports:
        lines.append(f"{r.slug:<20} {r.lang:<4} {r.total:>7} {r.current:>7} {r.stale:>6} {r.missing:>7} "
                     f"{r.words:>10} {r.percent:>5.0f}%  {'yes' if r.declared else 'no'}")
        lines += [f"    problem: {p}" for p in r.problems]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the package
PACKAGE_SOURCES = ("cnnbook/*.py", "autograde/check.py", "autograde/progress.py", "autograde/judge.py",
                   "autograde/grade.py", "autograde/late.py",  # the learner's feedback page
                   "autograde/runner.py", "autograde/__main__.py", "autograde/i18n.py")


def package_catalog_path(lang: str) -> Path:
    from cnnbook.i18n import LOCALE

    return LOCALE / lang / "LC_MESSAGES" / "cnnbook.po"


def package_messages() -> list[tuple[str, str]]:
    """``(English message, where)`` of every ``_("...")`` and ``N_("...")`` in the learner-facing modules."""
    from .lessons import ROOT

    found: dict[str, str] = {}
    for pattern in PACKAGE_SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_") \
                        and node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    found.setdefault(node.args[0].value, f"{path.relative_to(ROOT).as_posix()}:{node.lineno}")
    return sorted(found.items(), key=lambda item: item[1])


def update_package_catalog(lang: str = "ko") -> Path:
    """Bring ``cnnbook/locale/<lang>/LC_MESSAGES/cnnbook.po`` in line with the messages in the code."""
    from babel.messages.catalog import Catalog

    path = package_catalog_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_catalog(path, lang)
    new = Catalog(locale=lang, project="CNN course workbook: cnnbook and the self-check", version="1",
                  charset="utf-8", fuzzy=False)
    olds = [m for m in old if m.id and m.string]
    for msgid, where in package_messages():
        previous = old.get(msgid)
        if previous is not None and previous.string:
            new.add(msgid, previous.string, auto_comments=[where], flags=set(previous.flags),
                    previous_id=list(previous.previous_id or []))
            continue
        closest = difflib.get_close_matches(msgid, [m.id for m in olds], n=1, cutoff=0.8)
        if closest:
            stale = next(m for m in olds if m.id == closest[0])
            new.add(msgid, stale.string, auto_comments=[where], flags={"fuzzy"}, previous_id=stale.id)
        else:
            new.add(msgid, "", auto_comments=[where])
    write_catalog(new, path)
    return path


def package_coverage(lang: str = "ko") -> tuple[int, list[str]]:
    """How many package messages there are, and those without a current translation (or with broken fields)."""
    catalog = read_catalog(package_catalog_path(lang), lang)
    messages = package_messages()
    left = []
    for msgid, where in messages:
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            left.append(f"{where}: {msgid}")
        elif _fields(msgid) != _fields(str(message.string)):
            left.append(f"{where}: the translation's {{fields}} differ: {msgid}")
    return len(messages), left


def _fields(text: str) -> list[str]:
    import string

    try:
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    except ValueError:
        return ["<unparsable>"]
