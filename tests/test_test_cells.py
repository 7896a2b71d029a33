"""The course's test cells, read as source: every hidden failure says which case failed.

A learner reads about a failed *hidden* check only the exercise, the case named by ``hidden_case(...)``,
the typical slip and the hint (see ``autograde.judge._explain_hidden``). A hidden check outside a
``with hidden_case("...")`` block fails as "<exercise>: a hidden check failed." and nothing more, so this
test reads every test cell of every lesson (solutions/*) and fails when any statement of a hidden part
that can fail on the learner's behalf is not inside such a block. It also asks every ``CheckFailed`` a
test raises by hand to carry a ``what=``, and every test to check what a learner's function returned before it
unpacks or indexes it (Python's own "not enough values to unpack" names no call and no expected value).
"""
from __future__ import annotations

import ast
import re

import nbformat
import pytest

from autograde.lessons import grade_cells
from conftest import LESSONS, lesson_ids

CHECKS = {"check_array", "check_value", "check_shape", "check_true", "check_raises", "check_own_work", "check_type",
          "check_parts", "answer_of", "raised_instead"}


def exercise_names(nb) -> set[str]:
    """The names learner code defines: the grade_ids of the answer cells."""
    return {gid for gid, cell in grade_cells(nb).items() if cell.metadata.nbgrader.get("solution")}


def _test_cells(nb):
    for gid, cell in grade_cells(nb).items():
        meta = cell.metadata.nbgrader
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            yield gid, cell.source


def _hidden_source(source: str) -> tuple[str, int]:
    """The hidden part of a test cell (dedented as written) and the line number where it starts."""
    before, _, rest = source.partition("### BEGIN HIDDEN TESTS")
    return rest.partition("### END HIDDEN TESTS")[0], before.count("\n") + 1


def _visible_source(source: str) -> str:
    return source.partition("### BEGIN HIDDEN TESTS")[0]


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_case_block(node: ast.AST) -> bool:
    """``with hidden_case(<a non-empty sentence>):`` (a literal, an f-string, or a name from a table of cases)"""
    if not isinstance(node, ast.With):
        return False
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and _called_name(call) == "hidden_case" and call.args:
            sentence = call.args[0]
            if isinstance(sentence, ast.Constant) and isinstance(sentence.value, str) and sentence.value.strip():
                return True
            if isinstance(sentence, (ast.JoinedStr, ast.Name)):   # a Name: the sentence of a table of cases
                return True
    return False


def uncovered_failures(hidden: str, learner_names: set[str], visible: str = "") -> list[tuple[int, str]]:
    """(line, what) of every statement in ``hidden`` that can fail and is in no ``hidden_case`` block.

    Can fail: a call of a check_* helper, of a learner's function, of a function of the test cell (its
    visible part included) that (directly or through another one) does one of these, and a ``raise``.
    """
    tree = ast.parse(hidden)
    functions = {node.name: node for part in (ast.parse(visible), tree) for node in ast.walk(part)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    failing = set(CHECKS) | set(learner_names)

    def fails(node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Raise):
                return True
            if isinstance(sub, ast.Call) and _called_name(sub) in failing:
                return True
        return False

    changed = True
    while changed:                      # local helpers that call checks or learner code fail too
        changed = False
        for name, node in functions.items():
            if name not in failing and fails(node):
                failing.add(name)
                changed = True

    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, covered: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return                      # judged where it is called
        covered = covered or _is_case_block(node)
        if not covered:
            if isinstance(node, ast.Raise):
                found.append((node.lineno, "raise"))
            elif isinstance(node, ast.Call) and _called_name(node) in failing:
                found.append((node.lineno, f"{_called_name(node)}(...)"))
        for child in ast.iter_child_nodes(node):
            visit(child, covered)

    visit(tree, False)
    return found


def check_failed_without_what(source: str) -> list[int]:
    """Lines where a test cell builds a CheckFailed without naming the call it checked (``what=``)."""
    tree = ast.parse(source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", ""))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _called_name(node) == "CheckFailed"
            and not any(k.arg == "what" for k in node.keywords)]


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_hidden_failure_names_its_case(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    names = exercise_names(nb)
    problems = []
    for gid, source in _test_cells(nb):
        hidden, first_line = _hidden_source(source)
        for line, what in uncovered_failures(hidden, names, _visible_source(source)):
            problems.append(f"{gid}, line {first_line + line - 1}: {what}")
    assert not problems, (
        f"{lesson.slug}: hidden checks outside a `with hidden_case(\"<the kind of case>\"):` block; a learner "
        "would read only 'a hidden check failed.':\n  " + "\n  ".join(problems))


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_hand_made_check_failed_has_a_what(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    problems = [f"{gid}, line {line}" for gid, source in _test_cells(nb) for line in check_failed_without_what(source)]
    assert not problems, f"{lesson.slug}: CheckFailed(...) without what=: " + ", ".join(problems)


def unguarded_uses(source: str, learner_names: set[str]) -> list[tuple[int, str]]:
    """(line, what) where a test cell unpacks or indexes what a learner's function returned before a check said
    what it is: ``a, b = f(x)`` (write ``a, b = check_parts(call, f(x), 2, expected=...)``), ``f(x)[0]`` (bind it and
    check it first), and ``got[1, 2]`` on ``got = f(x)`` with no ``check_type`` (or ``isinstance`` in a
    ``check_true``) of ``got`` since: a list of lists passes ``check_shape`` and ``check_array`` and then stops the
    test with "list indices must be integers or slices, not tuple", which names no call and no expected type."""
    tree = ast.parse(source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", ""))

    def learner_call(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in learner_names

    bound: dict[str, list[int]] = {}
    typed: dict[str, list[int]] = {}
    indexed: list[tuple[int, str, str]] = []
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, (ast.Tuple, ast.List)) and learner_call(node.value):
                    found.append((node.lineno, f"unpacks {ast.unparse(node.value)[:60]}"))
                pairs = zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and isinstance(
                    node.value, ast.Tuple) and len(target.elts) == len(node.value.elts) else [(target, node.value)]
                for name, value in pairs:
                    if isinstance(name, ast.Name) and learner_call(value):
                        bound.setdefault(name.id, []).append(node.lineno)
        elif isinstance(node, ast.Subscript):
            if learner_call(node.value):
                found.append((node.lineno, f"indexes {ast.unparse(node.value)[:60]}"))
            elif isinstance(node.value, ast.Name) and isinstance(node.slice, ast.Tuple):
                indexed.append((node.lineno, node.value.id, ast.unparse(node)[:60]))
        elif isinstance(node, ast.Call) and _called_name(node) in ("check_type", "check_parts") and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Name):
            typed.setdefault(node.args[1].id, []).append(node.lineno)
        elif isinstance(node, ast.Call) and _called_name(node) == "check_true":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and _called_name(inner) == "isinstance" and inner.args \
                        and isinstance(inner.args[0], ast.Name):
                    typed.setdefault(inner.args[0].id, []).append(node.lineno)
    for line, name, what in indexed:
        since = max([at for at in bound.get(name, []) if at < line], default=None)
        if since is not None and not any(since <= at < line for at in typed.get(name, [])):
            found.append((line, what))
    return sorted(set(found))


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_test_checks_what_a_function_returned_before_it_unpacks_or_indexes_it(lesson):
    from autograde.judge import exercise_names as notebook_names   # every top-level name of the answer cells

    nb = nbformat.read(lesson.source, as_version=4)
    names = notebook_names(nb)
    problems = [f"{gid}, line {line}: {what}" for gid, source in _test_cells(nb)
                for line, what in unguarded_uses(source, names)]
    assert not problems, (f"{lesson.slug}: a learner's answer unpacked or indexed before a check said what it is "
                          "(check_parts, check_type):\n  " + "\n  ".join(problems))


# --- the scanner itself --------------------------------------------------------------------------------

def test_the_scanner_finds_answers_unpacked_or_indexed_unchecked():
    source = ("a, b = f(1)\nc = f(2)[0]\ngot = f(3)\ncheck_shape('f', got, (2, 2))\nv = got[1, 1]\n"
              "got = f(4)\ncheck_type('f', got, np.ndarray)\nw = got[1, 1]\n"
              "x, y = check_parts('f', f(5), 2)\nz = g(1)[0, 0]\n")
    assert unguarded_uses(source, {"f"}) == [(1, "unpacks f(1)"), (2, "indexes f(2)"), (5, "got[1, 1]")]


def test_the_scanner_finds_a_check_outside_a_case_and_accepts_one_inside():
    bare = "check_value('f(2)', f(2), 4)\n"
    assert [what for _, what in uncovered_failures(bare, {"f"})] == ["check_value(...)", "f(...)"]
    inside = "with hidden_case('a larger input'):\n    check_value('f(2)', f(2), 4)\n"
    assert uncovered_failures(inside, {"f"}) == []
    empty = "with hidden_case(''):\n    check_value('f(2)', f(2), 4)\n"
    assert len(uncovered_failures(empty, {"f"})) == 2


def test_the_scanner_follows_local_helpers_and_raises():
    source = ("def answer(x):\n    try:\n        return f(x)\n    except Exception:\n"
              "        raise CheckFailed('f', what='f')\n"
              "def outer(x):\n    return answer(x) + 1\n"
              "y = outer(3)\n"
              "with hidden_case('three'):\n    z = outer(3)\n"
              "raise CheckFailed('no', what='x')\n")
    assert [what for _, what in uncovered_failures(source, {"f"})] == ["outer(...)", "raise"]
    visible = "def helper(x):\n    return f(x)\n"
    assert [what for _, what in uncovered_failures("helper(2)\n", {"f"}, visible)] == ["helper(...)"]


def test_the_scanner_finds_check_failed_without_what():
    assert check_failed_without_what("raise CheckFailed('x: raised')\n") == [1]
    assert check_failed_without_what("raise CheckFailed('x', what='x')\n") == []


SEEDING = {"manual_seed", "seed", "default_rng", "RandomState", "Random", "SeedSequence"}


def fixed_seeds(source: str) -> list[int]:
    """Lines where a test seeds a random generator with a constant (``torch.manual_seed(1006)``): what it draws is
    the same in every grading run, so a hidden part's inputs could be collected in one run and answered in the next.
    A hidden part draws from ``hidden_rng()`` (or from the global generators, which the judge seeds from the run's
    hidden seed before the part, ``autograde.judge.seed_generators``), or seeds with a number drawn from it."""
    tree = ast.parse(source)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _called_name(node) in SEEDING and node.args
            and not any(isinstance(n, (ast.Name, ast.Call, ast.Attribute)) for a in node.args for n in ast.walk(a))]


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_no_hidden_part_seeds_a_generator_with_a_constant(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    problems = []
    for gid, source in _test_cells(nb):
        hidden, first_line = _hidden_source(source)
        problems += [f"{gid}, line {first_line + line - 1}" for line in fixed_seeds(hidden)]
    assert not problems, f"{lesson.slug}: a hidden part seeds a generator with a constant: " + ", ".join(problems)


def test_the_scanner_finds_constant_seeds():
    source = ("torch.manual_seed(1006)\nrng = np.random.default_rng(2 ** 10)\ntorch.manual_seed(seed)\n"
              "g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))\nrandom.seed()\n")
    assert fixed_seeds(source) == [1, 2]


# --- demonstration cells: the learner's code called outside a test ------------------------------------------

def _demo_cells(nb) -> list[tuple[int, str]]:
    """(index, source) of the code cells that are neither an answer nor a test (nbgrader's)."""
    return [(index, cell.source) for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade")
            and not cell.metadata.get("nbgrader", {}).get("solution")]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _catches_everything(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(isinstance(k, ast.Name) and k.id in ("Exception", "BaseException")
                                       for k in kinds)


def _reports(handler: ast.ExceptHandler) -> list[str]:
    """What is wrong with how a handler that catches everything tells the learner: it must call
    ``what_failed(<the error>)`` (the error's first line, the learner's line, what it usually means, or that an earlier
    cell stopped) and not print the error itself (a PyTorch error runs to eight lines)."""
    problems = []
    said = [node for node in ast.walk(handler) if isinstance(node, ast.Call) and _called_name(node) == "what_failed"
            and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == handler.name]
    if not handler.name or not said:
        problems.append("its `except Exception` does not call what_failed(err)")
    inside = {id(node) for call in said for node in ast.walk(call)}
    if any(isinstance(node, ast.Name) and node.id == handler.name and isinstance(node.ctx, ast.Load)
           and id(node) not in inside for node in ast.walk(handler)):
        problems.append("its `except` shows the error itself (what_failed(err) says it briefly)")
    return problems


def unguarded_demo_uses(cells: list[str], learner_names: set[str]) -> list[tuple[int, int, str]]:
    """(cell, line, what) where a lesson's demonstration cell (not a test) calls the learner's code so that an error,
    or a value of the wrong kind, would end it with a traceback: a call of a learner's function (or of a function the
    lesson's cells define that calls one), or one passed to a call, outside the body of a ``try`` whose ``except
    Exception`` says what failed with ``what_failed(err)``; and a name the ``try`` bound from such a call, read in its
    ``else:`` or after it in the cell (a wrong kind of value fails where it is used: use it inside the ``try``).
    Names bound in other cells are not followed."""
    trees = []
    for source in cells:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            trees.append(ast.Module(body=[], type_ignores=[]))
    learner = set(learner_names)
    defined = {node.name: node for tree in trees for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    changed = True
    while changed:                  # the lesson's own functions that call the learner's code
        changed = False
        for name, node in defined.items():
            own = {arg.arg for arg in ast.walk(node) if isinstance(arg, ast.arg)}     # its parameters
            if name not in learner and any(isinstance(sub, ast.Name) and sub.id in learner and sub.id not in own
                                           for sub in ast.walk(node)):
                learner.add(name)
                changed = True

    def uses(node: ast.AST) -> list[ast.Name]:
        """Learner names called or passed to a call in ``node``, outside the functions it defines."""
        found, todo = [], [node]
        while todo:
            here = todo.pop()
            if isinstance(here, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(here, ast.Call):
                for part in [here.func, *here.args, *(k.value for k in here.keywords)]:
                    if isinstance(part, ast.Name) and part.id in learner:
                        found.append(part)
            todo += ast.iter_child_nodes(here)
        return found

    found: list[tuple[int, int, str]] = []
    for index, tree in enumerate(trees):
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            handlers = [h for h in node.handlers if _catches_everything(h)]
            for handler in handlers:
                found += [(index, handler.lineno, problem) for problem in _reports(handler)]
            if not handlers:
                continue
            for statement in node.body:
                guarded |= {id(name) for name in uses(statement)}
            # names bound in the body from the learner's code, then read after the body
            tainted: set[str] = set()
            changed = True
            while changed:
                changed = False
                for sub in ast.walk(ast.Module(body=node.body, type_ignores=[])):
                    if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)) and sub.value is not None \
                            if not isinstance(sub, ast.For) else True:
                        value = sub.iter if isinstance(sub, ast.For) else sub.value
                        if uses(ast.Expr(value)) or any(isinstance(n, ast.Name) and n.id in tainted
                                                         for n in ast.walk(value)):
                            targets = [sub.target] if isinstance(sub, (ast.AnnAssign, ast.AugAssign, ast.For)) \
                                else sub.targets
                            for target in targets:
                                for name in ast.walk(target):
                                    if isinstance(name, ast.Name) and name.id not in tainted and (
                                            isinstance(name.ctx, ast.Store)):
                                        tainted.add(name.id)
                                        changed = True
            later = [*node.orelse, *node.finalbody] + [s for s in tree.body if s.lineno > node.end_lineno]
            read = sorted((name.lineno, name.id) for statement in later for name in ast.walk(statement)
                          if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id in tainted)
            for name_id in dict.fromkeys(name_id for _, name_id in read):
                line = min(at for at, other in read if other == name_id)
                found.append((index, line, f"`{name_id}` (what the learner's code returned) is used after its try: "
                                            "a wrong kind of value fails there"))
        for name in uses(tree):
            if id(name) not in guarded:
                found.append((index, name.lineno, f"{name.id} is called outside a try whose `except Exception` says "
                                                  "what failed"))
    return sorted(set(found))


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_demonstration_cell_says_what_failed_in_the_learners_code_whatever_it_raised(lesson):
    """A learner's trial in JupyterLab (lessons 05 and 10): cells that show the learner's function at work caught only
    NotImplementedError, and a function that raised anything else (or returned a list) ended Run All with an English
    traceback whose arrow pointed at the `except` line. Lesson 06's cells caught everything but printed PyTorch's
    whole eight-line error into a Korean sentence. Every lesson's demonstration cell catches any error of the
    learner's code, says what failed with what_failed(err) and uses what came back only inside its try."""
    from autograde.judge import exercise_names as notebook_names   # every top-level name of the answer cells

    nb = nbformat.read(lesson.source, as_version=4)
    cells = _demo_cells(nb)
    problems = [f"cell {cells[k][0]}, line {line}: {what}"
                for k, line, what in unguarded_demo_uses([source for _, source in cells], notebook_names(nb))]
    assert not problems, f"{lesson.slug}: a demonstration cell can end in a traceback:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_demonstration_cells_handler_deletes_no_name_of_the_learners(lesson):
    """A hostile trial: Python deletes an `except ... as err` name when its handler ends, so a demonstration cell that
    caught an error deleted a learner's own `err` (an error rate, a relative error) from their notebook. A
    demonstration cell's handler binds a name of the course's own (`demo_...`), which no answer cell binds."""
    from autograde.judge import exercise_names as notebook_names

    nb = nbformat.read(lesson.source, as_version=4)
    theirs = notebook_names(nb)
    found = [(index, node.name) for index, source in _demo_cells(nb) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.ExceptHandler) and node.name
             and (not node.name.startswith("demo_") or node.name in theirs)]
    assert not found, f"{lesson.slug}: (cell, name) of handlers that can delete a learner's variable: {found}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_lessons_progress_bars_say_when_their_loop_stopped(lesson):
    """A Korean trial, lesson 08: a demonstration loop whose learner code failed left tqdm's bar at 0/1, looking stuck
    under the cell's sentence of what failed. Every lesson takes its bar from cnnbook.bars (tqdm.auto's, which says
    it stopped, or disappears with leave=False), never from tqdm itself."""
    nb = nbformat.read(lesson.source, as_version=4)
    found = [(index, node.lineno, ast.unparse(node)) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for node in ast.walk(ast.parse(re.sub(r"(?m)^\s*[%!].*$", "", cell.source)))
             if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tqdm")
             or (isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "tqdm" for alias in node.names))]
    assert not found, f"{lesson.slug}: (cell, line, import) of a bar that looks stuck when its loop fails: {found}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_test_cells_visible_handler_deletes_no_name_of_the_learners(lesson):
    """The same for a test cell's visible part, which runs in the learner's kernel in Jupyter: a handler at its top
    level (`except Exception as err:` around the learner's call) deleted a learner's own `err` whenever their code
    raised there. A handler outside a function binds a name of the course's own (`test_...` or `demo_...`), which no
    answer cell binds; one inside a function binds a local name only."""
    from autograde.judge import exercise_names as notebook_names, split_hidden

    nb = nbformat.read(lesson.source, as_version=4)
    theirs = notebook_names(nb)
    found = []
    for gid, cell in grade_cells(nb).items():
        if not cell.metadata.nbgrader.get("grade") or cell.metadata.nbgrader.get("solution"):
            continue
        todo = list(ast.iter_child_nodes(ast.parse(split_hidden(cell.source)[0])))
        while todo:
            node = todo.pop()
            if isinstance(node, _SCOPES):
                continue
            if isinstance(node, ast.ExceptHandler) and node.name and (
                    not node.name.startswith(("test_", "demo_")) or node.name in theirs):
                found.append((gid, node.name))
            todo.extend(ast.iter_child_nodes(node))
    assert not found, f"{lesson.slug}: (test, name) of handlers that can delete a learner's variable: {found}"


def test_the_demonstration_scanner_finds_each_way_a_cell_can_end_in_a_traceback():
    ok = ("try:\n    y = f(1)\n    print(y.shape)\nexcept NameError as err:\n    print(err)\n"
          "except Exception as err:\n    print('f is not ready yet.')\n    what_failed(err)\n")
    assert unguarded_demo_uses([ok], {"f"}) == []
    bare = "y = f(1)\n"
    narrow = "try:\n    y = f(1)\nexcept NotImplementedError:\n    print('not yet')\n"
    pasted = "try:\n    y = f(1)\nexcept Exception as err:\n    print(f'not ready ({err})')\n    what_failed(err)\n"
    silent = "try:\n    y = f(1)\nexcept Exception as err:\n    print('not ready')\n"
    after = ("try:\n    y = 2 * f(1)\nexcept Exception as err:\n    what_failed(err)\nelse:\n    print(y.shape)\n"
             "z = y + 1\n")
    helper = "def g(x):\n    return f(x) + 1\n"
    passed = "show(g, 3)\n"
    found = unguarded_demo_uses([bare, narrow, pasted, silent, after, helper, passed], {"f"})
    assert [(cell, line, what.split(" ")[0]) for cell, line, what in found] == [
        (0, 1, "f"), (1, 2, "f"), (2, 3, "its"), (3, 3, "its"), (4, 6, "`y`"), (6, 1, "g")], found


def names_looked_up_by_key(source: str) -> list[int]:
    """Lines where a test looks a learner's name up as ``globals()[name]``: a name the notebook lacks (a deleted
    answer cell, or one whose definitions were lost with a cell stopped at its time limit) raises ``KeyError:
    'conv_macs'``, which the judge reads as the learner's error in the test's helper ("course_backed('conv_macs',
    ['layer_shapes']) raised KeyError: 'conv_macs'", an instructor's trial), where a ``NameError`` is told as
    "conv_macs is not defined in your notebook" (``autograde.judge._explain``)."""
    tree = ast.parse(source)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call)
            and _called_name(node.value) in ("globals", "locals") and isinstance(node.ctx, ast.Load)]


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_a_test_never_looks_a_learners_name_up_by_key(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    problems = [f"{gid}, line {line}" for gid, source in _test_cells(nb) for line in names_looked_up_by_key(source)]
    assert not problems, f"{lesson.slug}: globals()[...] (use a NameError for a missing name): " + ", ".join(problems)


def test_the_scanner_finds_names_looked_up_by_key():
    assert names_looked_up_by_key("a = globals()[name]\nb = globals().get(name)\nglobals()['x'] = 1\n") == [1]


@pytest.mark.parametrize("grade_id", ["test_conv_macs", "test_depthwise_separable_cost"])
def test_an_exercise_the_notebook_lacks_is_a_name_error_in_lesson_04(grade_id):
    """The visible part of lesson 04's tests that call the learner's function with the course's own earlier
    exercises in place, run in this process with the learner's function missing: a NameError naming it."""
    from conftest import answer_sources

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "04_parameters")
    answers = answer_sources(lesson)
    missing = grade_id.removeprefix("test_")
    space: dict = {}
    exec("import torch\nfrom torch import nn\n" + "\n".join(source for gid, source in answers.items()
                                                            if gid != missing), space)
    test = next(cell for gid, cell in grade_cells(nbformat.read(lesson.source, as_version=4)).items()
                if gid == grade_id).source.split("### BEGIN HIDDEN TESTS")[0]
    with pytest.raises(NameError, match=f"name '{missing}' is not defined"):
        exec(compile(test, grade_id, "exec"), space)


def test_a_slip_in_an_earlier_exercise_costs_lesson_04s_later_one_nothing():
    """Lesson 04's later tests call the learner's function with the course's own earlier exercises in place
    (``course_backed``), so that a slip in one costs only that one: a layer_shapes that forgets to refuse a filter
    too wide for its input (an instructor's trial, with conv_macs lost to a cell stopped at its time limit) made
    depthwise_separable_cost fail its visible "the filter does not fit" check, which called the learner's function
    directly."""
    from conftest import answer_sources

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "04_parameters")
    answers = answer_sources(lesson)
    no_fit_check = '''def layer_shapes(h, w, c_in, f, c_out, p=0, s=1, m=1):
    n_H, n_W = (h + 2 * p - f) // s + 1, (w + 2 * p - f) // s + 1
    return {"n_H": n_H, "n_W": n_W, "filter": (f, f, c_in), "W": (f, f, c_in, c_out), "b": (1, 1, 1, c_out),
            "A": (m, n_H, n_W, c_out)}
'''
    space: dict = {}
    exec("import torch\nfrom torch import nn\n" + "\n".join(
        no_fit_check if gid == "layer_shapes" else source for gid, source in answers.items()), space)
    test = next(cell for gid, cell in grade_cells(nbformat.read(lesson.source, as_version=4)).items()
                if gid == "test_depthwise_separable_cost").source.split("### BEGIN HIDDEN TESTS")[0]
    exec(compile(test, "test_depthwise_separable_cost", "exec"), space)       # passes: no CheckFailed
