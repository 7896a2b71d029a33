"""Turn a graded notebook into one that is safe to publish: inert in a browser, and without hidden tests.

What the grader writes to OUT/autograded/ is opened by formgrader (in the Jupyter server's own origin) and
rendered by ``nbgrader generate_feedback`` into pages students read. nbconvert renders HTML outputs as they
are and Markdown with raw HTML and any link scheme, so a learner's ``display(HTML("<script>..."))`` or
``[x](javascript:...)`` would run in the instructor's browser. :func:`publishable` keeps only what is inert:

- outputs: text (stream, errors, text/plain), PNG and JPEG images that really are base64 PNG/JPEG, HTML after
  cleaning with nh3 (a maintained sanitiser) against a small allow-list, Markdown and LaTeX made inert (below);
  everything else (JavaScript, SVG, widget views, unknown types) is dropped with a visible note;
- Markdown (learner cells, text/markdown outputs) stays Markdown that reads the same: no raw HTML tags
  (``<tag`` becomes ``< tag``), no character references, links only to http(s), images only of the cell's own
  attachments (one from the web would load when the page opens), no link definitions, no ``javascript:`` scheme, no MathJax macros that make links, styles or load extensions;
- attachments: PNG/JPEG only; metadata: only the nbgrader metadata of the lesson's own cells (taken from the
  lesson, never from the submission), simple tags, image width/height; every text is capped in size;
- test cells: only their visible part, plus one comment saying that hidden checks ran in the grader.

Nothing here runs learner code or parses anything with unbounded cost: nh3 and a few linear regexes.
"""
from __future__ import annotations

import base64
import binascii
import copy
import re
import uuid
from pathlib import Path
from typing import Any

import nbformat

from .judge import HIDDEN_BEGIN, split_hidden
from .lessons import grade_cells, is_test_cell

# Size caps (characters). A graded notebook is already limited by the kernel's output limit; these keep any
# one piece small enough for a browser and for nh3, whatever arrives.
MAX_SOURCE = 200_000          # one cell's source
MAX_TEXT = 200_000            # one text output (stream, text/plain, error), Markdown or LaTeX output
MAX_HTML = 500_000            # one text/html output, before cleaning
MAX_IMAGE = 8_000_000         # one base64 PNG/JPEG (output or attachment)
MAX_TRACEBACK_LINES = 200
MAX_OUTPUTS = 100             # outputs kept per cell
MAX_ATTACHMENTS = 20
MAX_TAGS = 20

HIDDEN_NOTE = "# (hidden checks of this exercise ran in the grader; they are not shown here)"
NOTE_PREFIX = "[grader] "

# HTML outputs keep structure and text only: no scripts, styles, forms, frames, SVG, images, ids or classes.
HTML_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "div",
             "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p",
             "pre", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
             "th", "thead", "tr", "tt", "u", "ul", "var"}
HTML_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"colspan", "rowspan", "align"},
                   "th": {"colspan", "rowspan", "align", "scope"}, "ol": {"start"}, "col": {"span"},
                   "colgroup": {"span"}}
_cleaner = None

IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")                          # what starts HTML: a tag, comment, ...
_CHAR_REF = re.compile(r"&(?=#[0-9]|#[xX][0-9A-Fa-f]|[A-Za-z][A-Za-z0-9]{1,31};)")         # &#106; &#106 &lt;
_LINK_OPEN = re.compile(r"\]\(")                                     # [text](destination
_LINK_DEF = re.compile(r"\]:")                                       # [label]: destination
_SAFE_DEST = re.compile(r"[ \t]*(?:\n[ \t]*)?(?:(?P<url>https?://[^\s()<>\\&\"'`]+)"
                        r"|attachment:(?P<name>[A-Za-z0-9._-]{1,100}))(?=[ \t\n)])")
# A scheme that runs script; browsers ignore tabs and newlines inside a URL, so they may sit between letters.
_SCRIPT_SCHEME = re.compile(r"((?:j\s*a\s*v\s*a|v\s*b|l\s*i\s*v\s*e)\s*s\s*c\s*r\s*i\s*p\s*t\s*):", re.IGNORECASE)
# MathJax macros that make links, set styles/classes/ids or any attribute, build macro names, change the parser's
# options or load extensions. \mmlToken sets any attribute MathJax's Safe extension lets through: a style with
# cursor:url(...) made JupyterLab 4.6 (MathJax 3 + Safe) fetch a remote URL as the notebook opened (a hostile trial);
# \bbox takes a style as well.
_TEX_MACRO = re.compile(r"\\(?=(?:href|url|style|class|cssId|unicode|require|csname|data|mmlToken|bbox|setOptions)"
                        r"(?![A-Za-z]))")
_FENCE_MERMAID = re.compile(r"^([ \t]{0,3}(?:`{3,}|~{3,})[ \t]*)(mermaid)", re.MULTILINE | re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_KEEP_ESC = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")   # stream/errors keep ANSI colours
_TAG_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MIME_NAME = re.compile(r"[^A-Za-z0-9.+/-]")
ZWSP = "\u200b"


# --- text ----------------------------------------------------------------------------------------------

def _text(value) -> str | None:
    """A notebook text field (a string or a list of strings) as one string; None if it is neither."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _cap(text: str, limit: int, comment: str = "") -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n{comment}{NOTE_PREFIX}cut here: it had {len(text):,} characters\n"


def _no_script_scheme(text: str) -> str:
    """No ``javascript:`` (or vbscript:, livescript:) survives in ``text``; it still reads the same."""
    return _SCRIPT_SCHEME.sub(lambda m: m.group(1) + ZWSP + ":", text)


def _defang(text: str) -> str:
    """For text MathJax may typeset: no script scheme, and no macro that links, styles or loads extensions."""
    return _TEX_MACRO.sub("\\\\" + ZWSP, _no_script_scheme(text))


def inert_markdown(text: str, attachments: set[str] | frozenset[str] = frozenset()) -> str:
    """Markdown that renders as the same text and formatting, but can make no HTML element of its own choice.

    ``attachments``: the names of the cell's (kept) attachments, which ``![..](attachment:NAME)`` may show.
    """
    text = _CONTROL.sub("", text)
    text = _TAG_OPEN.sub("< ", text)                  # "<b>" reads "< b>": text, never a tag or autolink
    text = _CHAR_REF.sub("&amp;", text)              # "&#106;" reads "&#106;": it never turns into a "j"

    images = _image_closers(text)

    def link(match: re.Match) -> str:
        dest = _SAFE_DEST.match(text, match.end())
        # A link may go to any web page (the reader clicks it); an image only to the cell's own attachment: one from
        # the web would load as the page opens (a tracking pixel in the instructor's browser, a hostile trial).
        if dest and (dest["name"] in attachments or (dest["url"] and match.start() not in images)):
            return match.group(0)
        return "]" + ZWSP + "("                      # not a link any more: shown as the text it was

    text = _LINK_OPEN.sub(link, text)
    text = _LINK_DEF.sub("]" + ZWSP + ":", text)
    text = _FENCE_MERMAID.sub(lambda m: m.group(1) + "text", text)
    return _defang(text)


def _image_closers(text: str) -> set[int]:
    """Where ``](`` closes the text of an image (``![alt](...)``): the ``]`` of each, found in one pass (brackets
    paired as they nest; an escaped one is text)."""
    openers: list[int] = []
    closers = set()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            openers.append(i)
        elif ch == "]" and openers:
            start = openers.pop()
            if start > 0 and text[start - 1] == "!" and text.startswith("](", i):
                closers.add(i)
        i += 1
    return closers


def clean_html(html: str) -> str:
    """HTML with only structure and text left (nh3, with this module's allow-list)."""
    global _cleaner
    if _cleaner is None:
        import nh3

        _cleaner = nh3.Cleaner(tags=HTML_TAGS, attributes=HTML_ATTRIBUTES, clean_content_tags={"script", "style"},
                               url_schemes={"http", "https", "mailto"}, url_relative="deny",
                               link_rel="noopener noreferrer nofollow", strip_comments=True)
    return _defang(_cleaner.clean(_CONTROL.sub("", html)))


def _image(value: str, mime: str) -> str | None:
    """The base64 text of a real PNG/JPEG, or None."""
    data = re.sub(r"\s+", "", value)
    if not data or len(data) > MAX_IMAGE:
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if raw.startswith(IMAGE_MAGIC[mime]) else None


def _size(value, limit: int) -> int | None:
    return value if type(value) is int and 0 < value <= limit else None


# --- outputs -------------------------------------------------------------------------------------------

def _note(text: str):
    return nbformat.v4.new_output("stream", name="stderr", text=f"{NOTE_PREFIX}{text}\n")


def _describe(mimes: list[str]) -> str:
    names = sorted({_MIME_NAME.sub("", m)[:60] or "?" for m in mimes})
    if names == [WIDGET_MIME]:
        return "an interactive widget is not shown in this copy"
    listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return (f"not shown: an output of type {listed} (published are text, PNG/JPEG images and cleaned HTML; "
            "scripts, SVG and widgets are not)")


def publish_output(output) -> list:
    """The publishable form of one output: zero, one or two outputs (the output and/or a note)."""
    if not isinstance(output, dict):
        return [_note("not shown: an output that was not an output")]
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text"))
        if text is None:
            return []
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return [nbformat.v4.new_output("stream", name=name, text=_no_script_scheme(_cap(_CONTROL_KEEP_ESC.sub("", text),
                                                                             MAX_TEXT)))]
    if kind == "error":
        def line(value, limit):
            text = _text(value) if not isinstance(value, str) else value
            return _no_script_scheme(_cap(_CONTROL_KEEP_ESC.sub("", text or ""), limit))
        tb = output.get("traceback")
        tb = tb if isinstance(tb, list) else []
        lines = [line(t, MAX_TEXT // 10) for t in tb[:MAX_TRACEBACK_LINES] if isinstance(t, str)]
        if len(tb) > MAX_TRACEBACK_LINES:
            lines.append(f"{NOTE_PREFIX}{len(tb) - MAX_TRACEBACK_LINES} more traceback lines cut")
        return [nbformat.v4.new_output("error", ename=line(output.get("ename"), 200),
                                       evalue=line(output.get("evalue"), MAX_TEXT // 10), traceback=lines)]
    if kind not in ("display_data", "execute_result"):
        return [_note(_describe([str(kind)]))]
    data, meta = _mapping(output.get("data")), _mapping(output.get("metadata"))
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    metadata: dict[str, Any] = {}
    for mime, value in data.items():
        text = _text(value) if isinstance(mime, str) else None
        if mime in IMAGE_MAGIC and text is not None:
            image = _image(text, mime)
            if image is None:
                dropped.append(mime)
                continue
            kept[mime] = image
            given = _mapping(meta.get(mime))
            sizes = {k: _size(given.get(k), 10_000) for k in ("width", "height")}
            if any(v is not None for v in sizes.values()):
                metadata[mime] = {k: v for k, v in sizes.items() if v is not None}
        elif mime in TEXT_MIMES and text is not None:
            if mime == "text/plain":
                kept[mime] = _no_script_scheme(_cap(_CONTROL_KEEP_ESC.sub("", text), MAX_TEXT))
            elif mime == "text/html":
                if len(text) > MAX_HTML:
                    dropped.append(mime)
                    continue
                kept[mime] = clean_html(text)
            elif mime == "text/markdown":
                kept[mime] = inert_markdown(_cap(text, MAX_TEXT))
            else:
                kept[mime] = _defang(_cap(_CONTROL.sub("", text), MAX_TEXT))
        else:
            dropped.append(str(mime))
    published = []
    if kept:
        if kind == "execute_result":
            published.append(nbformat.v4.new_output("execute_result", data=kept, metadata=metadata,
                                                    execution_count=None))
        else:
            published.append(nbformat.v4.new_output("display_data", data=kept, metadata=metadata))
    if dropped and (set(dropped) != {WIDGET_MIME} or "image/png" not in kept):
        published.append(_note(_describe(dropped)))
    return published


def publish_outputs(outputs) -> list:
    published = []
    for output in outputs[:MAX_OUTPUTS] if isinstance(outputs, list) else []:
        published += publish_output(output)
    if isinstance(outputs, list) and len(outputs) > MAX_OUTPUTS:
        published.append(_note(f"{len(outputs) - MAX_OUTPUTS} more outputs of this cell are not shown"))
    return published


# --- cells ---------------------------------------------------------------------------------------------

def _mapping(value: object) -> dict:
    """``value`` when it is a JSON object, else an empty one (a submission's JSON may hold anything anywhere)."""
    return value if isinstance(value, dict) else {}


def _attachments(given) -> dict:
    kept: dict[str, Any] = {}
    if not isinstance(given, dict):
        return kept
    for name, bundle in list(given.items())[:MAX_ATTACHMENTS]:
        if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name) and isinstance(bundle, dict)):
            continue
        images = {}
        for mime in IMAGE_MAGIC:
            text = _text(bundle.get(mime))
            image = _image(text, mime) if text is not None else None
            if image is not None:
                images[mime] = image
        if images:
            kept[name] = images
    return kept


def _tags(metadata) -> list[str]:
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    if not isinstance(tags, list):
        return []
    return [t for t in tags if isinstance(t, str) and _TAG_NAME.match(t)][:MAX_TAGS]


def _test_source(source_cell) -> str:
    visible, hidden = split_hidden(source_cell.source)
    if not hidden.strip():
        return visible
    return visible.rstrip() + "\n\n" + HIDDEN_NOTE


def publishable(graded, source) -> nbformat.NotebookNode:
    """A copy of the graded notebook that is inert in a browser and holds no hidden test source.

    ``graded``: the notebook the runner produced (a NotebookNode, a dict or its JSON text); ``source``: the
    lesson's source notebook (a NotebookNode or its path). Cells keep the lesson's nbgrader metadata where
    their grade_id is the lesson's (first occurrence only), so formgrader and the gradebook still match.
    """
    if isinstance(graded, str):
        graded = nbformat.reads(graded, as_version=4)
    if isinstance(source, (str, Path)):
        source = nbformat.read(str(source), as_version=4)
    lesson_cells = grade_cells(source)
    # The lesson's own text, as the learner received it, is the author's: it is kept as written.
    lesson_text = {c.source: c for c in source.cells if c.cell_type == "markdown" and c.source.strip()}
    nb = nbformat.v4.new_notebook()
    kernelspec = source.metadata.get("kernelspec") or {"name": "python3", "display_name": "Python 3",
                                                       "language": "python"}
    nb.metadata = {"kernelspec": copy.deepcopy(dict(kernelspec)), "language_info": {"name": "python"}}
    used_ids, used_gids = set(), set()
    for cell in graded.get("cells", []) if isinstance(graded, dict) else []:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            continue
        given = _mapping(cell.get("metadata"))
        nbg = _mapping(given.get("nbgrader"))
        gid = nbg.get("grade_id") if isinstance(nbg.get("grade_id"), str) else None
        original = lesson_cells.get(gid) if gid and gid not in used_gids else None
        if original is not None and original.cell_type != kind:
            original = None
        metadata: dict[str, Any] = {}
        if original is not None:
            used_gids.add(gid)
            metadata["nbgrader"] = copy.deepcopy(dict(original.metadata["nbgrader"]))
        tags = _tags(given)
        if tags:
            metadata["tags"] = tags
        text = _text(cell.get("source")) or ""
        if kind == "code":
            if original is not None and is_test_cell(original):
                text = _test_source(original)
            else:
                if HIDDEN_BEGIN in text:       # a copy of hidden tests in a learner's cell: never published
                    text = split_hidden(text)[0].rstrip() + "\n" + HIDDEN_NOTE
                text = _cap(_CONTROL_KEEP_ESC.sub("", text), MAX_SOURCE, comment="# ")
            new = nbformat.v4.new_code_cell(text, metadata=metadata)
            new.outputs = publish_outputs(cell.get("outputs"))
        elif kind == "markdown" and text in lesson_text:
            new = nbformat.v4.new_markdown_cell(text, metadata=metadata)
            if lesson_text[text].get("attachments"):
                new.attachments = copy.deepcopy(lesson_text[text].attachments)
        else:
            attachments = _attachments(cell.get("attachments")) if kind == "markdown" else {}
            text = inert_markdown(_cap(text, MAX_SOURCE), frozenset(attachments))
            if kind == "markdown":
                new = nbformat.v4.new_markdown_cell(text, metadata=metadata)
                if attachments:
                    new.attachments = attachments
            else:
                new = nbformat.v4.new_raw_cell(text, metadata=metadata)
        cid = cell.get("id")
        if not (isinstance(cid, str) and _CELL_ID.match(cid)) or cid in used_ids:
            cid = uuid.uuid4().hex[:12]
        used_ids.add(cid)
        new.id = cid
        nb.cells.append(new)
    nbformat.validate(nb)
    return nb


def publishable_text(graded, source) -> str:
    """:func:`publishable` as notebook JSON text."""
    return nbformat.writes(publishable(graded, source))


__all__ = ["clean_html", "inert_markdown", "publish_output", "publish_outputs", "publishable", "publishable_text"]
