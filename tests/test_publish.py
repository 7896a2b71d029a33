"""What leaves the grader is inert in a browser and holds nothing hidden (autograde/publish.py, judge.py).

Unit tests of the publish step, then one real batch of the grader's test lesson (99_guard): a submission
whose cells emit script in every output type, and submissions that fail hidden checks with learner text in
their exceptions. The autograded notebooks, our feedback pages, the results and nbgrader's own
`generate_feedback` pages of that batch must carry no active content, no hidden test source and no learner
text in a hidden check's message, while the honest parts still score.
"""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from autograde import publish
from autograde.judge import HIDDEN_BEGIN, HIDDEN_END, _explain
from autograde.kernel import _size
from cnnbook.checks import CheckFailed, check_array, hidden_case
from conftest import GUARD, GUARD_SOLUTIONS, solved, write

HIDDEN_ONLY = "_values = _rng.normal(size=_groups * _width)"   # a line only the hidden part of test_group_max has
CASE = "all-negative groups"                # the case 99_guard names around its first hidden check
SCRIPT_SCHEMES = re.compile(r"^\s*(javascript|vbscript|livescript|data:text|data:image/svg)", re.IGNORECASE)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset"}


def render(markdown: str, attachments: dict | None = None) -> str:
    """Markdown as nbconvert renders a cell for formgrader and generate_feedback (raw HTML allowed)."""
    return MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {})).render(markdown)


def _png() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


PNG = _png()
SVG_SCRIPT = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert("PWNED-svg-attachment")</script></svg>'


class Page(HTMLParser):
    """What a browser would treat as active in an HTML text: elements, event handlers, script URLs."""

    ACTIVE = frozenset({"script", "style", "svg", "math", "iframe", "frame", "object", "embed", "form", "input", "button",
              "textarea", "select", "link", "meta", "base", "img", "video", "audio", "source",
                        "template"})

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.handlers: list[str] = []
        self.script_urls: list[str] = []
        self.marked: list[str] = []                   # PWNED inside an attribute, a script or a style
        self._raw: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag in self.ACTIVE:
            self.tags[tag] += 1
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value[:60]}>")
            if name in URL_ATTRIBUTES and SCRIPT_SCHEMES.match(re.sub(r"[\x00-\x20]", "", value)):
                self.script_urls.append(f"<{tag} {name}={value[:60]}>")
            if "PWNED" in value:
                self.marked.append(f"<{tag} {name}={value[:60]}>")
        if tag in ("script", "style"):
            self._raw = tag

    def handle_endtag(self, tag):
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data):
        if self._raw and "PWNED" in data:
            self.marked.append(f"<{self._raw}>{data[:60]}")


def assert_inert(html: str, allowed: Counter | None = None, where: str = "") -> Page:
    page = Page(html)
    assert not page.handlers, (where, page.handlers)
    assert not page.script_urls, (where, page.script_urls)
    assert not page.marked, (where, page.marked)
    extra = page.tags - (allowed or Counter())
    assert not extra, (where, dict(extra))
    return page


# --- unit tests of the publish step ---------------------------------------------------------------------

MARKDOWN_ATTACKS = [
    '<script>alert("PWNED")</script>',
    '<img src=x onerror=alert("PWNED")>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "[a](javascript:alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](&#106avascript:alert(1)) &#x6a;avascript:alert(1) &#0000106avascript:",
    "[a](<javascript:alert(1)>)",
    "[a](  javascript:alert(1))",
    "[a][r]\n\n[r]: javascript:alert(1)",
    "[a]\n\n[a]:\n  javascript:alert(1)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<!-- x --><svg onload=alert(1)>",
    '<div style="background:url(https://evil.example/bg.png)">x</div>',
    '```mermaid\ngraph TD; A["<img src=x onerror=alert(1)>"]-->B\n```',
    "![x](attachment:evil.svg)",
    "![x](https://evil.example/x.png\" onerror=\"alert(1))",
    "![pixel](https://evil.example/pixel.png)",                  # loads as the page opens: a tracking pixel
    "![a [nested] b](https://evil.example/pixel.png)",
    "[![badge](https://evil.example/b.svg)](https://evil.example/)",
    "</p><script>alert(1)</script>",
    "<  script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<?php x ?><!DOCTYPE html><![CDATA[x]]>",
]


@pytest.mark.parametrize("text", MARKDOWN_ATTACKS)
def test_markdown_from_a_learner_renders_inert_in_nbconvert(text):
    inert = publish.inert_markdown(text, frozenset({"ok.png"}))
    html = render(inert, {"ok.png": {"image/png": PNG}})
    page = assert_inert(html, where=text)
    assert "javascript:" not in html.lower() and "<script" not in inert.lower()
    assert page.tags.get("img", 0) == 0


# MathJax 3 in JupyterLab 4.6 (with its Safe extension) fetched this cursor image as the notebook opened: a learner's
# math loaded a URL of their choice in the instructor's browser (tried with Chromium; \bbox and \setOptions also set
# styles and the parser's options).
TEX_ATTACKS = [r'$\mmlToken{mi}[style="cursor:url(https://evil.example/c.png), auto"]{x}$',
               r"$$\bbox[border:1px solid red;cursor:url(https://evil.example/b.png)]{y}$$",
               r"\(\setOptions[tex]{maxMacros=1}\)", r"$\let\t=\mmlToken \t{mi}[href=x]{z}$"]
_ACTIVE_TEX = re.compile(r"\\(?:href|url|style|class|cssId|unicode|require|csname|data|mmlToken|bbox|setOptions)"
                         r"(?![A-Za-z])")


@pytest.mark.parametrize("text", TEX_ATTACKS)
def test_math_that_sets_attributes_is_not_math_any_more(text):
    published = [publish.inert_markdown(text)]
    for mime in ("text/markdown", "text/latex", "text/html"):
        (output,) = publish.publish_output({"output_type": "display_data", "data": {mime: text}, "metadata": {}})
        published.append(output["data"][mime])
    for shown in published:
        assert not _ACTIVE_TEX.search(shown), shown
        assert "evil.example" in shown or "setOptions" in shown or "[href=x]" in shown   # it still reads the same


def test_markdown_still_reads_as_markdown():
    text = ("# A heading\n\n**bold**, *italic*, `x < y`, $a_{ij}<b$ and\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "- a list\n- [a link](https://pytorch.org/docs) and ![plot](attachment:ok.png)\n\n```python\nx = 1\n```\n")
    inert = publish.inert_markdown(text, frozenset({"ok.png"}))
    html = render(inert, {"ok.png": {"image/png": PNG}})
    for part in ("<h1", "<strong>bold</strong>", "<em>italic</em>", "<table>", "<li>",
                 'href="https://pytorch.org/docs"', '<span class="mi">1</span>', "$a_{ij}&lt; b$"):
        assert part in html, (part, html)
    assert f'<img src="data:image/png;base64,{PNG}"' in html            # the kept attachment
    # An image from the web is text (it would load as the page opens); a link to the web stays a link.
    mixed = render(publish.inert_markdown("![a [b] c](https://example.org/p.png) and [d](https://example.org/)"))
    assert "<img" not in mixed and 'href="https://example.org/"' in mixed and "example.org/p.png" in mixed
    # Text that only looks like a tag still reads the same, one space apart.
    assert "&lt; b&gt;bold&lt; /b&gt;" in render(publish.inert_markdown("<b>bold</b>"))


def test_html_outputs_keep_structure_and_text_only():
    html = ('<table class="dataframe" border="1"><thead><tr><th>a</th></tr></thead><tbody><tr><td colspan="2">1</td>'
            '</tr></tbody></table><style>td {color: red}</style><b onclick="alert(1)">bold</b>'
            '<script>alert("PWNED")</script><img src="x" onerror="alert(1)"><a href="javascript:alert(1)">j</a>'
            '<a href="https://pytorch.org">ok</a><a href="/files/gradebook.db">rel</a><svg onload="alert(1)"></svg>'
            '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=q></form>'
            '<div id="toc" style="position:fixed">$\\href{javascript:alert(1)}{x}$</div>')
    cleaned = publish.clean_html(html)
    assert_inert(cleaned)
    assert "<table>" in cleaned and "<td colspan=\"2\">1</td>" in cleaned and "<b>bold</b>" in cleaned
    assert 'href="https://pytorch.org"' in cleaned and "gradebook.db" not in cleaned
    assert "style" not in cleaned and "id=" not in cleaned and "class=" not in cleaned
    assert "javascript:" not in cleaned and "\\href" not in cleaned


def test_every_output_type_is_published_inert():
    outputs = [
        {"output_type": "display_data", "data": {"application/javascript": "alert(1)"}, "metadata": {}},
        {"output_type": "display_data", "data": {"image/svg+xml": "<svg onload='alert(1)'/>",
                                                 "text/plain": "<IPython.core.display.SVG object>"}, "metadata": {}},
        {"output_type": "display_data", "data": {"image/png": base64.b64encode(b"<svg onload=alert(1)>").decode()},
         "metadata": {}},
        {"output_type": "display_data", "data": {"image/png": "not base64 at all!"}, "metadata": {}},
        {"output_type": "display_data", "data": {"image/png": PNG},
         "metadata": {"image/png": {"width": '10" onerror="alert(1)', "height": 20},
                      "filenames": {"image/png": "../../gradebook.db"}, "junk": "x" * 10_000}},
        {"output_type": "display_data", "data": {"text/markdown": "[x](javascript:alert(1))",
                                                 "text/latex": "$\\href{javascript:alert(1)}{x}$"}, "metadata": {}},
        {"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                                                 "text/plain": "Widget"}, "metadata": {}},
        {"output_type": "display_data", "data": {"text/vnd.mermaid": "graph TD; A-->B"}, "metadata": {}},
        {"output_type": "execute_result", "execution_count": "<script>", "data": {"text/html": "<b>ok</b>"},
         "metadata": {}},
        {"output_type": "stream", "name": "<script>", "text": "printed javascript:alert(1)\n"},
        {"output_type": "error", "ename": "ValueError", "evalue": "<b>x</b>", "traceback": ["line"] * 500},
        {"output_type": "weird"},
    ]
    published = publish.publish_outputs(outputs)
    mimes = {m for o in published for m in o.get("data", {})}
    assert mimes <= {"text/plain", "image/png", "text/html", "text/markdown", "text/latex"}, mimes
    pngs = [o for o in published if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and pngs[0]["data"]["image/png"] == PNG
    assert pngs[0]["metadata"] == {"image/png": {"height": 20}}
    notes = "".join(o["text"] for o in published if o["output_type"] == "stream" and o["name"] == "stderr")
    for kind in ("application/javascript", "image/svg+xml", "text/vnd.mermaid", "weird", "interactive widget"):
        assert kind in notes, kind
    assert notes.count("image/png") == 2                      # the fake PNG and the broken base64
    as_text = json.dumps(published)
    assert "javascript:" not in as_text and "\\\\href" not in as_text and "<script" not in as_text
    result = next(o for o in published if o["output_type"] == "execute_result")
    assert result["execution_count"] is None
    error = next(o for o in published if o["output_type"] == "error")
    assert len(error["traceback"]) == publish.MAX_TRACEBACK_LINES + 1
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=published)])
    nbformat.validate(nb)


def _graded_notebook() -> nbformat.NotebookNode:
    """99_guard as the runner hands it back: the learner's cells, the lesson's test cells with outputs."""
    source = nbformat.read(GUARD.source, as_version=4)
    nb = solved(GUARD)
    tests = {c.metadata.nbgrader["grade_id"]: c for c in source.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    for i, cell in enumerate(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in tests:
            nb.cells[i] = nbformat.from_dict(json.loads(json.dumps(tests[gid])))
    return nb


def test_test_cells_keep_only_their_visible_part():
    nb = _graded_notebook()
    raw = json.dumps(nb)
    assert HIDDEN_ONLY in raw                        # the graded notebook holds the lesson's full test cells
    learner = nbformat.v4.new_code_cell(f"x = 1\n{HIDDEN_BEGIN}\nsecret = 42\n{HIDDEN_END}\n")
    nb.cells.append(learner)
    published = publish.publishable(nb, GUARD.source)
    text = nbformat.writes(published)
    assert HIDDEN_ONLY not in text and HIDDEN_BEGIN not in text and "secret = 42" not in text
    tests = [c for c in published.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert len(tests) == 3
    for cell in tests:
        assert cell.source.rstrip().endswith(publish.HIDDEN_NOTE)
        assert "passed(" in cell.source              # the visible checks are still there to read


def test_metadata_comes_from_the_lesson_not_from_the_submission():
    nb = _graded_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"x": "</script><script>alert(1)"}}
    nb.metadata["title"] = "<script>alert(1)</script>"
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "group_max")
    answer.metadata["nbgrader"]["points"] = 100
    answer.metadata["tags"] = ["fine-tag", 'x" onclick="alert(1)', 7]
    answer.metadata["collapsed"] = True
    bonus = nbformat.v4.new_markdown_cell("extra", metadata={"nbgrader": {"grade": True, "solution": True,
                                                                          "grade_id": "bonus", "points": 50}})
    copy_of_answer = nbformat.v4.new_code_cell("def group_max(v, w): pass",
                                               metadata={"nbgrader": dict(answer.metadata["nbgrader"])})
    nb.cells += [bonus, copy_of_answer]
    published = publish.publishable(nbformat.writes(nb), GUARD.source)
    assert set(published.metadata) == {"kernelspec", "language_info"}
    source = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
              for c in nbformat.read(GUARD.source, as_version=4).cells if "nbgrader" in c.metadata}
    seen = [c.metadata["nbgrader"]["grade_id"] for c in published.cells if "nbgrader" in c.metadata]
    assert sorted(seen) == sorted(gid for gid in source if gid in json.dumps(nb))   # each once, none invented
    for cell in published.cells:
        if "nbgrader" in cell.metadata:
            assert cell.metadata["nbgrader"] == source[cell.metadata["nbgrader"]["grade_id"]]
        assert set(cell.metadata) <= {"nbgrader", "tags"}
    assert next(c for c in published.cells if c.source.startswith("def group_max")).metadata["tags"] == ["fine-tag"]


def test_attachments_keep_only_real_png_and_jpeg():
    cell = nbformat.v4.new_markdown_cell("![a](attachment:ok.png) ![b](attachment:evil.svg) ![c](attachment:fake.png)")
    cell.attachments = {"ok.png": {"image/png": PNG},
                        "evil.svg": {"image/svg+xml": base64.b64encode(SVG_SCRIPT.encode()).decode()},
                        "fake.png": {"image/png": base64.b64encode(SVG_SCRIPT.encode()).decode()},
                        "../x.png": {"image/png": PNG}}
    nb = nbformat.v4.new_notebook(cells=[cell])
    published = publish.publishable(nb, GUARD.source).cells[0]
    assert published.attachments == {"ok.png": {"image/png": PNG}}
    html = render(published.source, published.attachments)
    assert html.count("<img") == 1 and "data:image/png;base64" in html


def test_sizes_are_capped():
    big = nbformat.v4.new_markdown_cell("word " * 100_000)
    out = {"output_type": "stream", "name": "stdout", "text": "y" * 1_000_000}
    code = nbformat.v4.new_code_cell("print()", outputs=[nbformat.from_dict(out)] * 150)
    nb = nbformat.v4.new_notebook(cells=[big, code])
    published = publish.publishable(nb, GUARD.source)
    assert len(published.cells[0].source) < publish.MAX_SOURCE + 200
    outputs = published.cells[1].outputs
    assert len(outputs) == publish.MAX_OUTPUTS + 1
    assert all(len(o["text"]) < publish.MAX_TEXT + 200 for o in outputs)


def test_the_output_limit_counts_metadata_too():
    content = {"data": {"text/plain": "x"}, "metadata": {"junk": "y" * 50_000}}
    assert _size(content) > 50_000
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    assert _size({"data": {"text/plain": "x"}, "metadata": deep}) > 10 ** 9    # not measurable: over the limit


def _failure(func, *args) -> Exception:
    try:
        func(*args)
    except Exception as err:  # noqa: BLE001 - the failure is what the test looks at
        return err
    raise AssertionError("no failure")


def test_hidden_failures_show_the_authors_words_only():
    def checked():
        with hidden_case("non-square images"):
            check_array("conv(<a 5x7 image>, k)", [1.0, 2.0], [1.0, 3.0], mistakes={"the kernel was flipped": [1.0, 2.0]},
                        hint="Slide the window.")
    err = _failure(checked)
    message = _explain(err, True, "conv")
    assert message == ("conv: a hidden check failed (non-square images).\n"
                       "  this looks like a typical slip: the kernel was flipped.\n  Hint: Slide the window.")
    assert "5x7" not in message and "expected" not in message
    # Exceptions: a builtin class name only; a learner's class, or the learner's text, never.
    learner = ValueError("your code raised ValueError: LEAKED [0.1, 0.2]")
    learner.from_learner = learner.from_kernel = True          # as judge._as_local_exception marks it
    assert _explain(learner, True, "pool") == "pool: a hidden check failed.\n  Your code raised ValueError."
    from autograde.judge import LearnerError

    own = LearnerError("your code raised LeakyError: LEAKED")
    own.from_learner = True
    assert "LeakyError" not in _explain(own, True, "pool") and "LEAKED" not in _explain(own, True, "pool")
    assert _explain(AssertionError("x == 3 PWNED"), True, "pool") == "pool: a hidden check failed."
    # Visible checks say everything they know, as before.
    visible = _failure(check_array, "f(x)", [1.0], [2.0])
    assert isinstance(visible, CheckFailed) and _explain(visible, False, "f") == str(visible)
    assert _explain(learner, False, "pool") == str(learner)


def test_hidden_case_changes_nothing_in_a_learners_notebook():
    with hidden_case("anything"):
        check_array("f(x)", [1.0], [1.0])
    def nested():
        with hidden_case("outer"), hidden_case("inner"):
            raise KeyError(1)
    err = _failure(nested)
    assert type(err) is KeyError and err.hidden_case == "inner"


# --- one real batch --------------------------------------------------------------------------------------

XSS_CELLS = [
    '''from IPython.display import display, HTML, Javascript, SVG, Markdown, Latex
display(HTML('<script>alert("PWNED-html-script")</script><b>bold text</b><img src=x onerror="alert(\\'PWNED\\')">'
             '<a href="javascript:alert(\\'PWNED-href\\')">link</a><iframe src="https://evil.example/"></iframe>'
             '<style>body{background:url(https://evil.example/PWNED-style)}</style>'
             '<form action="https://evil.example/"><input name="q"></form><table><tr><td>a table cell</td></tr></table>'
             '<svg onload="alert(\\'PWNED-inline-svg\\')"></svg>'))''',
    '''display(Javascript('alert("PWNED-js")'))''',
    '''display(SVG('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(&quot;PWNED-svg&quot;)">'
            '<script>alert("PWNED-svg-script")</script><circle r="4"/></svg>'))''',
    '''display(Markdown('<script>alert("PWNED-md")</script>\\n\\n[click me](javascript:alert("PWNED-md-link"))\\n\\n'
                 '<img src=x onerror=alert("PWNED-md-img")>'))''',
    '''display(Latex(r'$\\href{javascript:alert("PWNED-latex")}{click}$'))''',
    f'''import base64
display({{"text/plain": "a widget", "application/vnd.jupyter.widget-view+json": {{"model_id": "x", "version_major": 2,
         "version_minor": 0}}, "text/vnd.mermaid": "graph TD; A[PWNED-mermaid]-->B"}}, raw=True)
display({{"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert("PWNED-raw-svg")</script></svg>'}}, raw=True)
display({{"image/png": base64.b64encode(b'<svg onload=alert("PWNED-fake-png")>').decode()}}, raw=True)
display({{"image/png": "{PNG}"}}, metadata={{"image/png": {{"width": '10" onerror="alert(1)', "height": 20}},
        "filenames": {{"image/png": "../../gradebook.db"}}, "PWNED-medium": "m" * 100_000}}, raw=True)''',
    '''print('<script>alert("PWNED-print")</script>')''',
    '''raise ValueError('<img src=x onerror=alert("PWNED-error")>')''',
    '''HTML('<svg><script>alert("PWNED-result")</script></svg>')''',
    '''display({"text/plain": "big metadata"}, metadata={"junk": ["PWNED-meta-" + "x" * 1000] * 2000}, raw=True)''',
]
XSS_MARKDOWN = (
    'A note with <script>alert("PWNED-cell-script")</script> and <iframe src="javascript:alert(\'PWNED\')"></iframe>,\n'
    "a [link](javascript:alert('PWNED-cell-link')), a [reference][r], an entity link "
    "[e](&#106;avascript:alert('PWNED-cell-entity')),\n<a href=\"javascript:alert('PWNED-cell-a')\">raw a</a>, "
    "math $\\href{javascript:alert('PWNED-cell-tex')}{x}$,\nan image ![svg](attachment:evil.svg) and a picture "
    "![ok](attachment:ok.png), **bold words** and `x < y`.\n\n[r]: javascript:alert('PWNED-cell-ref')\n")
XSS_ANSWER = ('Max pooling keeps the largest value <b onmouseover="alert(\'PWNED-answer\')">in each window</b>, '
              "so a one-pixel shift often keeps the same maximum.")

LEAKY = {
    "group_max": '''def group_max(values, width):
    """Right on the visible inputs only."""
    values = np.asarray(values, dtype=float)
    if len(values) == 8:
        return values.reshape(-1, width).max(axis=1)
    raise ValueError(f"LEAKED {values.tolist()} width={width}")''',
    "pool": '''class LeakyError(Exception):
    pass


def pool(values, width, mode):
    groups = np.asarray(values, dtype=float).reshape(-1, width)
    if width == 3:
        raise LeakyError(f"LEAKED2 {groups.tolist()} mode={mode}")
    if mode == "max":
        return groups.max(axis=1)
    if mode == "mean":
        return groups.mean(axis=1)
    raise ValueError(mode)''',
}
ZERO_START = {"group_max": '''def group_max(values, width):
    """The running maximum starts at 0: wrong for groups of negative values."""
    out = []
    for group in np.asarray(values, dtype=float).reshape(-1, width):
        best = 0.0
        for v in group:
            best = max(best, v)
        out.append(best)
    return np.array(out)'''}


def _xss_submission() -> nbformat.NotebookNode:
    nb = solved(GUARD, {"why_pooling": XSS_ANSWER})
    imports = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "guard_imports")
    md = nbformat.v4.new_markdown_cell(XSS_MARKDOWN, metadata={
        "tags": ["fine", 'x" onclick="alert(1)'], "nbgrader": {"grade": True, "solution": True, "grade_id": "bonus",
                                                               "points": 50, "locked": False, "schema_version": 3}})
    md.attachments = {"evil.svg": {"image/svg+xml": base64.b64encode(SVG_SCRIPT.encode()).decode()},
                      "ok.png": {"image/png": PNG}}
    nb.cells[imports + 1:imports + 1] = [nbformat.v4.new_code_cell(src) for src in XSS_CELLS] + [md]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0, "x": "</script><script>alert('PWNED-widgets')</script>"}}
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from autograde.grade import grade_batch
    from autograde.sandbox import bubblewrap_works

    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    root = tmp_path_factory.mktemp("publish")
    subs, out = root / "subs", root / "out"
    students = {"honest": solved(GUARD), "xss": _xss_submission(), "leaky": solved(GUARD, LEAKY),
                "zero_start": solved(GUARD, ZERO_START)}
    for student, nb in students.items():
        write(nb, subs / student / GUARD.slug / f"{GUARD.slug}.ipynb")
    rows = {r.student: r for r in grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=2, progress=lambda *_: None)}
    return rows, out


def _results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / student / f"{GUARD.slug}.json").read_text(encoding="utf-8"))


def _autograded(out: Path, student: str) -> nbformat.NotebookNode:
    return nbformat.read(out / "autograded" / student / GUARD.slug / f"{GUARD.slug}.ipynb", as_version=4)


def _hidden_lines() -> list[str]:
    source = nbformat.read(GUARD.source, as_version=4)
    return [ln.strip() for c in source.cells if HIDDEN_BEGIN in c.source
            for ln in c.source.split(HIDDEN_BEGIN)[1].split(HIDDEN_END)[0].splitlines() if len(ln.strip()) > 20]


def _browser_parts(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(where, HTML) for everything of a notebook a renderer shows as HTML rather than as text."""
    parts = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("markdown", "raw"):
            parts.append((f"cell {i} source", render(cell.source, cell.get("attachments"))))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                parts.append((f"cell {i} text/html", data["text/html"]))
            if "text/markdown" in data:
                parts.append((f"cell {i} text/markdown", render(data["text/markdown"])))
            if "text/latex" in data:
                parts.append((f"cell {i} text/latex", data["text/latex"]))
    return parts


def _shown(nb: nbformat.NotebookNode) -> str:
    """Everything of a notebook except its code: outputs, text cells, attachments, metadata (learner code, shown
    as highlighted text, may of course spell out anything)."""
    return json.dumps({"metadata": nb.metadata,
                       "cells": [{k: v for k, v in c.items() if not (k == "source" and c.cell_type == "code")}
                                 for c in nb.cells]})


# What a hidden check's message must never carry: the learner's exception text (with the hidden inputs in it)
# or the learner's exception class.
LEAKS = ("LEAKED [", "LEAKED2 [", "raised LeakyError", "LeakyError:", "random values>")


@pytest.mark.slow
def test_honest_parts_still_score(batch):
    rows, _ = batch
    assert (rows["honest"].score, rows["xss"].score, rows["leaky"].score, rows["zero_start"].score) == (4, 4, 1, 2)
    assert all(r.status == "graded" for r in rows.values())
    assert "output-limit" in rows["xss"].flags


@pytest.mark.slow
def test_autograded_notebooks_are_inert(batch):
    _, out = batch
    nb = _autograded(out, "xss")
    mimes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
    assert mimes <= {"text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg"}, mimes
    for where, html in _browser_parts(nb):
        assert_inert(html, Counter({"img": 1}) if "source" in where else None, where)
        assert not re.search(r"<script|<svg|<iframe|javascript:", html, re.IGNORECASE), (where, html)
    shown = _shown(nb)
    for marker in ("PWNED-meta", "PWNED-medium", "PWNED-widgets", "gradebook.db"):
        assert marker not in shown, marker
    # Printed text and error messages stay as the learner's code printed them ("<script>" included): every
    # renderer shows them as text (the nbgrader test below renders them); nothing else may hold markup.
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output["output_type"] in ("stream", "error"):
                continue
            plain = output["data"].get("text/plain", "")
            assert not re.search(r"<script|<svg|<iframe", plain) or plain.startswith("<IPython.core.display")
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime, sizes in output.get("metadata", {}).items():
                assert mime in ("image/png", "image/jpeg") and set(sizes) <= {"width", "height"}
    assert "bold text" in shown and "a table cell" in shown and "bold words" in shown     # honest parts stay
    note = next(c for c in nb.cells if "A note with" in c.source)
    assert "nbgrader" not in note.metadata and note.metadata["tags"] == ["fine"]
    assert set(note.attachments) == {"ok.png"}
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "why_pooling")
    assert "in each window" in answer.source and "<b" not in answer.source
    notes = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr")
    assert "application/javascript" in notes and "image/svg+xml" in notes


@pytest.mark.slow
def test_nothing_hidden_and_no_learner_text_in_hidden_messages(batch):
    _, out = batch
    hidden = _hidden_lines()
    assert any(HIDDEN_ONLY in ln for ln in hidden)
    for student in ("honest", "xss", "leaky", "zero_start"):
        autograded = _autograded(out, student)
        texts = {"autograded": nbformat.writes(autograded),
                 "feedback": (out / "feedback" / student / f"{GUARD.slug}.html").read_text(encoding="utf-8"),
                 "results": json.dumps(_results(out, student)), "flagged": (out / "flagged.md").read_text()}
        for name, text in texts.items():
            for line in hidden:
                assert line not in text, (student, name, line)
            for leak in LEAKS:
                assert leak not in (_shown(autograded) if name == "autograded" else text), (student, name, leak)
    tests = {t["grade_id"]: t["message"] for t in _results(out, "leaky")["tests"]}
    assert tests["test_group_max"] == f"group_max: a hidden check failed ({CASE}).\n  Your code raised ValueError."
    assert tests["test_pool"] == "pool: a hidden check failed.\n  Your code raised an exception of a class it defines."
    tests = {t["grade_id"]: t["message"] for t in _results(out, "zero_start")["tests"]}
    # the guard's first hidden check (all-negative groups, fixed values: every run) catches it, in the author's words only
    assert tests["test_group_max"] == ("group_max: a hidden check failed (all-negative groups).\n"
                                       "  this looks like a typical slip: the running maximum started at 0.\n"
                                       "  Hint: Start from the first value of the group, not from 0.")


@pytest.mark.slow
def test_our_feedback_pages_are_inert(batch):
    _, out = batch
    for page in (out / "feedback").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert_inert(text, Counter({"style": 1, "meta": 2}), str(page))
        assert "Content-Security-Policy" in text
        assert "<script" not in text.lower() and "javascript:" not in text.lower()


@pytest.mark.slow
def test_gradebook_and_its_journal_are_private(batch):
    _, out = batch
    db = out / "gradebook.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    con = sqlite3.connect(db)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("CREATE TABLE probe (x)")
        journal = out / "gradebook.db-journal"
        assert journal.exists()
        assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    finally:
        con.rollback()
        con.close()


@pytest.mark.slow
def test_nbgrader_feedback_of_the_output_is_inert(batch, tmp_path):
    _, out = batch
    course = tmp_path / "course"               # nbgrader writes into the course root: a copy of OUT
    shutil.copytree(out, course)
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_feedback", GUARD.slug, f"--CourseDirectory.root={course}",
         f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}", "--CourseDirectory.course_id=cnn-course",
         "--CourseDirectory.autograded_directory=autograded", "--CourseDirectory.feedback_directory=nbfeedback"],
        check=False, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = {p.parts[-3]: p.read_text(encoding="utf-8") for p in (course / "nbfeedback").rglob("*.html")}
    assert set(pages) == {"honest", "xss", "leaky", "zero_start"}, proc.stderr
    baseline = Page(pages["honest"]).tags
    assert baseline["script"] == 2                # the template's MathJax and its configuration
    for student, html in pages.items():
        page = assert_inert(html, baseline + Counter({"img": 2}), student)
        assert page.tags["script"] == baseline["script"], student
        for line in _hidden_lines():
            assert line not in html, (student, line)
        for leak in LEAKS:
            assert leak not in html, (student, leak)
    assert "Score: 4.0 / 5.0" in pages["xss"] and "bold text" in pages["xss"]
    assert "hidden checks of this exercise ran in the grader" in pages["honest"]
    assert "group_max: a hidden check failed" in pages["leaky"]
