"""The learner's language: English (the source) or Korean (한국어판).

Messages of ``cnnbook`` and of the self-check are written in English and wrapped in ``_()``; their Korean
text lives in the gettext catalog ``cnnbook/locale/ko/LC_MESSAGES/cnnbook.po`` (read with Babel when Korean is
first needed; nothing is compiled). Words a lesson's test cells pass to the checks (``hint=``, the names of
``mistakes=`` and of ``known_errors``, ``hidden_case`` sentences, ``check_true`` explanations) are translated through that lesson's own
catalog, ``solutions/NN_slug/ko.po``, or for a learner without ``solutions/`` the released
``notebooks/ko/NN_slug/checks.po`` with the visible checks' sentences (see ``autograde.i18n``), so the test cells themselves stay identical in
both editions and are graded alike. A check's name written in words is translated the same way; an f-string
name's entry (flagged ``f-string``) is its text with the fields as written, ``parameters of AlexNet({n_classes})``:
the shown name is matched against the English around the fields, and the values found there fill the same
fields of the translation. An f-string entry translates only the messages of its own lesson (:func:`current_lesson`:
the grader's judge says which with :func:`set_lesson`, a kernel finds it in its notebook's path), and a field whose
expression shows what kind of value it holds (a number, a class's name, a dtype: :func:`_kind_of_field`) matches only
such a value: lesson 03's ``expected {np.dtype(dtype)}, got {got.dtype}`` once translated a sentence of lesson 04.

Which language, first match wins:

1. ``set_language("ko")`` (or ``"en"``) in a notebook or a program;
2. the environment variable ``CNNBOOK_LANG`` (``python -m cnnbook.lab --lang ko`` sets it for JupyterLab and so
   for every kernel it starts; ``python -m autograde check --lang ko`` sets it for its own run);
3. the notebook itself: a notebook under a folder named ``ko`` (``notebooks/ko/...``, ``my-work/ko/...``) runs in
   Korean, read from ``JPY_SESSION_NAME``, the notebook path Jupyter gives every kernel it starts; a notebook
   saved elsewhere, by the edition its file's metadata names (``cnnbook.language``, as release writes it);
   in Google Colab, the set-up cell of the Korean edition sets ``CNNBOOK_LANG`` (``autograde.colab``);
   a kernel started without a notebook path (``jupyter nbconvert --execute``, papermill, nbgrader's own
   ``autograde``) runs in its notebook's folder: when every notebook there is of one edition, that one (in a
   kernel only: a program's working folder says nothing of its language);
4. otherwise English.

Korean particles after a value. A particle's form depends on how the word before it ends (``이``/``가``,
``을``/``를``, ``은``/``는``, ``과``/``와``, ``으로``/``로``), and a ``{field}``'s value is only known when the
message is shown. A translation writes the doubled form right after the field, ``{name}을(를)``,
``{kind}이(가)``, ``{x}은(는)``, ``{a}와(과)``, ``{b}(으)로``, ``{c}(이)라는``, and :func:`format_text` picks the
form from the value (:func:`ending`: a Hangul syllable's final consonant, the Korean reading of a number); a value
whose reading it cannot tell keeps the doubled form, as Korean software writes it: every value that ends in a Latin
letter (an English word or name, ``group이(가)``, ``SGD을(를)``: 그룹 or 그루프, 에스지디 or the English letters,
depend on the reader) and a number glued to a name (``conv3``, ``fc1``). Package
messages get this from ``_("...").format(...)``, translated check names from :func:`lesson_text`. Text that is
not filled in at run time (a lesson's own ``print`` f-strings in the Korean notebook) is phrased so that no
particle follows a field (``tests/test_i18n.py`` checks every catalog).
"""
from __future__ import annotations

import os
import re
import string
import sys
from pathlib import Path, PurePath
from typing import Iterable

__all__ = ["LANGUAGES", "language", "set_language", "set_lesson", "current_lesson", "_", "N_", "lesson_text",
           "translation", "ending", "particle", "format_text", "padded"]

LANGUAGES = ("en", "ko")
LOCALE = Path(__file__).resolve().parent / "locale"
ROOT = Path(__file__).resolve().parent.parent

_chosen: str | None = None
_package: dict[str, dict[str, str]] = {}
_lessons: dict[str, dict[str, str]] = {}
_patterns: dict[str, dict[str | None, list[tuple[re.Pattern[str], list[str], str]]]] = {}   # by lesson; None: all
_lesson_fstrings: dict[str, dict[str, str]] = {}      # every lesson's f-string entries, English -> translation
FSTRING_FLAG = "f-string"
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


def set_language(lang: str | None) -> None:
    """Choose the language of messages for this process (``None``: back to the environment's choice)."""
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    _chosen = lang


def language() -> str:
    """``"ko"`` or ``"en"``, as described in the module's documentation."""
    if _chosen:
        return _chosen
    env = (os.environ.get("CNNBOOK_LANG") or "").strip().lower()
    if env in LANGUAGES:
        return env
    session = os.environ.get("JPY_SESSION_NAME") or ""
    if session and "ko" in PurePath(session).parts[:-1]:
        return "ko"
    if not session and "ipykernel" in sys.modules:     # a kernel, not a program such as the grader's CLI
        return _edition_of_folder() or "en"
    return _edition_of(session) or "en"


def _edition_of_folder() -> str | None:
    """The edition of the notebooks in the working folder, when there are a few and all name the same one (a kernel
    that nbconvert or nbgrader started for a notebook there, with no session path); read once per folder."""
    try:
        folder = Path.cwd()
    except OSError:
        return None
    key = f"{folder}{os.sep}*"
    if key not in _editions:
        try:
            notebooks = sorted(folder.glob("*.ipynb"))[:11]
        except OSError:
            notebooks = []
        found = {_edition_of(str(path)) for path in notebooks} if 0 < len(notebooks) <= 10 else {None}
        _editions[key] = found.pop() if len(found) == 1 else None
    return _editions[key]


_editions: dict[str, str | None] = {}


def _edition_of(session: str) -> str | None:
    """The edition the notebook file names in its metadata (``cnnbook.language``, which every translated edition
    carries), for a notebook saved outside a ``ko`` folder; read once per path."""
    if not session.endswith(".ipynb"):
        return None
    if session not in _editions:
        try:
            import json

            path = Path(session)
            if not path.is_file():
                return None                   # not saved yet: asked again next time
            found = (json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("cnnbook", {})
                     if path.stat().st_size < 64 * 2 ** 20 else {})
            lang = found.get("language") if isinstance(found, dict) else None
            _editions[session] = lang if lang in LANGUAGES else None
        except (OSError, ValueError, AttributeError):
            _editions[session] = None
    return _editions[session]


def _read_po(path: Path, fstrings: dict[str, str] | None = None) -> dict[str, str]:
    """``{English: translation}`` of a catalog's current entries (no fuzzy, no empty ones); the f-string
    entries are also put in ``fstrings`` when given."""
    try:
        from babel.messages.pofile import read_po

        with path.open("rb") as f:
            catalog = read_po(f)
    except (OSError, ImportError, ValueError):
        return {}
    out = {}
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
            out[message.id] = str(message.string)
            if fstrings is not None and FSTRING_FLAG in message.flags:
                fstrings[message.id] = str(message.string)
    return out


def fstring_fields(text: str) -> list[str]:
    """The fields of an f-string's text, in order, as written (``{k + 1}`` gives ``"k + 1"``)."""
    return [m.group(1) for m in _FIELD.finditer(text) if m.group(1) is not None]


def _fstring_pattern(text: str) -> tuple[re.Pattern[str], list[str]]:
    """A regular expression that matches what the f-string ``text`` gives, a group per distinct field; a field that
    :func:`_kind_of_field` knows the kind of holds only what a value of that kind can be.

    The fields are lazy, and a text that holds the words between them many times but does not match (a learner's
    value is part of some texts: ``got {got!r}``) would be tried in every way of cutting it, seconds for a name of
    five fields and 160 characters: a look-ahead first finds each run of words after the one before, never trying
    another (atomic groups), and the last at the end; a text without them is no match at once, and one with them,
    cut at these places, matches unless a field's kind or a repeated field's value says no."""
    parts: list[str] = []
    fields: list[str] = []
    words = [""]                                        # the text between fields, braces as one
    pos = 0
    for m in _FIELD.finditer(text):
        parts.append(re.escape(text[pos:m.start()]))
        words[-1] += text[pos:m.start()]
        if m.group(1) is None:                          # {{ or }}: one brace
            parts.append(re.escape(m.group(0)[0]))
            words[-1] += m.group(0)[0]
        elif m.group(1) in fields:                      # the same field again: the same value
            parts.append(f"(?P=f{fields.index(m.group(1))})")
            words.append("")
        else:
            fields.append(m.group(1))
            parts.append(f"(?P<f{len(fields) - 1}>{_KINDS[_kind_of_field(m.group(1))]})")
            words.append("")
        pos = m.end()
    parts.append(re.escape(text[pos:]))
    words[-1] += text[pos:]
    ahead = re.escape(words[0]) + "".join(f"(?>.+?{re.escape(w)})" for w in words[1:-1]) + \
        (f".+{re.escape(words[-1])}" if len(words) > 1 else "") + r"\Z"
    return re.compile(f"(?={ahead})" + "".join(parts), re.S), fields


_NUMBER_SPEC = re.compile(r"[,_]|[deEfFgGn%]$")        # a format spec that writes a number (grouped, or its type)
_NUMBERS, _WORDS = {"len", "int", "round", "float", "count", "ndim"}, {"__name__", "dtype", "item"}
# what a field of a kind can hold, spaces from a width around it (kinds: _kind_of_field)
_KINDS = {"number": r" *[-+]?(?:(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|inf|nan)%? *", "word": r" *[^ ]+? *",
          "": r".+?"}


def _kind_of_field(field: str) -> str:
    """What an f-string's field (as written: ``len(got)``, ``x:.3f``) can hold: ``"number"`` for a number written by
    a format spec (``:.3f``, ``:,``), a count or a number made by ``len``, ``int``, ``round``, ``float``,
    ``.count(...)``, ``.ndim``; ``"word"`` (one word) for a class's name (``.__name__``), a dtype (``.dtype``,
    ``np.dtype(...)``), ``.item()``; else ``""``: any text (a name can hold a sentence)."""
    import ast

    try:
        node = ast.parse("f" + repr("{" + field + "}"), mode="eval").body
    except SyntaxError:
        return ""
    value = node.values[0] if isinstance(node, ast.JoinedStr) and len(node.values) == 1 else None
    if not isinstance(value, ast.FormattedValue):
        return ""
    spec = value.format_spec
    if isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values) and \
            _NUMBER_SPEC.search("".join(str(getattr(v, "value", "")) for v in spec.values)):
        return "number"
    made = value.value.func if isinstance(value.value, ast.Call) else value.value
    name = made.id if isinstance(made, ast.Name) and made is not value.value else \
        made.attr if isinstance(made, ast.Attribute) else ""
    return "number" if name in _NUMBERS else "word" if name in _WORDS else ""


def _fill(translation: str, values: dict[str, str]) -> str:
    """The translation of an f-string name with the values found in the shown name (particles resolved)."""
    out: list[str] = []
    pos = 0
    previous: str | None = None
    for m in _FIELD.finditer(translation):
        literal = translation[pos:m.start()]
        out.append(attach(previous, literal) if previous is not None else literal)
        previous = None
        if m.group(1) is None:
            out.append(m.group(0)[0])
        else:
            previous = values.get(m.group(1), m.group(0))
            out.append(previous)
        pos = m.end()
    rest = translation[pos:]
    out.append(attach(previous, rest) if previous is not None else rest)
    return "".join(out)


def columns(text: str) -> int:
    """Columns ``text`` takes in a monospaced output (a Hangul syllable or another wide character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def padded(text: object, width: int, align: str = "<") -> str:
    """``text`` filled with spaces to ``width`` columns as a monospaced output shows them (a Hangul syllable or
    another wide character takes two), on the right (``align="<"``) or on the left (``">"``): a printed table's
    label or header that a translation changes stays aligned. A lesson writes a shown label as
    ``padded("state dict entry", 18)`` (``autograde.i18n`` extracts the words), never ``{'state dict entry':<18}``."""
    text = str(text)
    fill = " " * max(0, width - columns(text))
    return fill + text if align == ">" else text + fill


# ------------------------------------------------------------------------------------ Korean particles
VOWEL, RIEUL, CONSONANT = "vowel", "rieul", "consonant"      # how the reading of a word ends (ㄹ apart: (으)로)
_DIGIT_ENDS = {"0": CONSONANT, "1": RIEUL, "2": VOWEL, "3": CONSONANT, "4": VOWEL, "5": VOWEL, "6": CONSONANT,
               "7": RIEUL, "8": RIEUL, "9": VOWEL}             # 영 일 이 삼 사 오 육 칠 팔 구
_CLOSING = " \t\n)]}>'\"`’”」』"
_NUMBER = re.compile(r"(\d[\d,]*)(?:\.(\d+))?$")
_REMARK = re.compile(r"[가-힣]\([^()]*\)[ \t\n'\"`’”」』]*$")   # a Korean word, then a remark in brackets
_GLUED = re.compile(r"[A-Za-z_]$")              # before a number: a name's part (conv3, fc1), read as the reader likes
# the doubled forms a translation writes after a field: (form after a consonant, after a vowel, after ㄹ)
PARTICLES = {"이(가)": ("이", "가", "이"), "가(이)": ("이", "가", "이"), "을(를)": ("을", "를", "을"),
             "를(을)": ("을", "를", "을"), "은(는)": ("은", "는", "은"), "는(은)": ("은", "는", "은"),
             "과(와)": ("과", "와", "과"), "와(과)": ("과", "와", "과"), "(으)로": ("으로", "로", "로"),
             "(이)": ("이", "", "이")}
# between a field and its particle only quotes may stand (`{name}`을(를)); after a bracket the template closes,
# "(형태 {shape})이", the particle belongs to the word before the bracket
_DOUBLED = re.compile(r"^(['\"`’”」』]*)(" + "|".join(re.escape(k) for k in PARTICLES) + ")")


def ending(text: object) -> str | None:
    """How the Korean reading of ``text`` ends: ``VOWEL``, ``RIEUL`` (ㄹ) or ``CONSONANT``; None when unknown.

    Closing brackets and quotes are skipped (``'T-shirt/top'``, ``(3, 3)``, ``형태 (1, 4, 7)``: 칠); a remark in
    brackets right after a Korean word, as Korean writes a gloss or an aside, is the word's (``배열(빈 리스트는
    ...)``: 배열). A Hangul syllable by its final
    consonant; a number as Korean reads it (``3`` 삼, ``10`` 십, ``100`` 백, ``0.5`` 영점오, ``12%`` 퍼센트).
    Anything else is unknown (None: the doubled form stays): a value that ends in a Latin letter (``group``,
    ``Adam``, ``SGD``), whose reading a rule of thumb guessed wrong (``group`` read as ending in a vowel gave
    ``group가``, 그룹이), and a number that ends a name (``conv3``, ``fc1``: 삼 or 쓰리, 일 or 원).
    """
    text = str(text)
    remark = _REMARK.search(text)       # 배열(빈 리스트는 ...): the particle follows the word, not its remark
    text = (text[:remark.start() + 1] if remark else text).rstrip(_CLOSING)
    if not text:
        return None
    last = text[-1]
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28
        return VOWEL if final == 0 else RIEUL if final == 8 else CONSONANT
    if last == "%":
        return VOWEL                                            # 퍼센트
    number = _NUMBER.search(text)
    if number and not _GLUED.search(text[:number.start()]):
        whole, decimals = number.group(1).replace(",", ""), number.group(2)
        if decimals:                                            # digits after the point are read one by one
            return _DIGIT_ENDS[decimals[-1]]
        zeros = len(whole) - len(whole.rstrip("0"))
        if zeros == 0 or int(whole) == 0:
            return _DIGIT_ENDS[whole[-1]]
        return VOWEL if zeros >= 12 else CONSONANT             # 십 백 천 만 … 억 ; 조
    return None


def particle(value: object, doubled: str) -> str:
    """The form of a doubled particle (a key of ``PARTICLES``, ``"을(를)"``) that follows ``value``; the doubled
    form itself when the reading of ``value`` is unknown."""
    kind = ending(value)
    if kind is None:
        return doubled
    after_consonant, after_vowel, after_rieul = PARTICLES[doubled]
    return {CONSONANT: after_consonant, VOWEL: after_vowel, RIEUL: after_rieul}[kind]


def attach(value: str, following: str) -> str:
    """``following`` (the text right after a field's value) with a doubled particle at its start resolved."""
    found = _DOUBLED.match(following)
    if not found:
        return following
    return found.group(1) + particle(value, found.group(2)) + following[found.end():]


# a small number before 번째 is read, and written, as a word: 첫 번째 인자, not 1번째 인자 (larger ones stay digits)
_ORDINALS = {"1": "첫", "2": "두", "3": "세", "4": "네", "5": "다섯", "6": "여섯", "7": "일곱", "8": "여덟", "9": "아홉",
             "10": "열"}


def format_text(template: str, /, *args, **kwargs) -> str:
    """``template.format(*args, **kwargs)``, with each doubled particle right after a field in the form the
    field's value needs (see the module's documentation), and a field of 1 to 10 right before 번째 as the word
    (``{n}번째 인자`` with 1: 첫 번째 인자)."""
    formatter = string.Formatter()
    out: list[str] = []
    previous: str | None = None
    auto = 0
    for literal, name, spec, conversion in formatter.parse(template):
        if previous is not None and literal.startswith("번째") and previous in _ORDINALS:
            out[-1] = _ORDINALS[previous] + " "
        out.append(attach(previous, literal) if previous is not None else literal)
        previous = None
        if name is None:
            continue
        if name == "":
            name, auto = str(auto), auto + 1
        value, _key = formatter.get_field(name, args, kwargs)
        value = formatter.convert_field(value, conversion)
        spec = format_text(spec, *args, **kwargs) if spec and "{" in spec else (spec or "")
        previous = formatter.format_field(value, spec)
        out.append(previous)
    return "".join(out)


class _Particled(str):
    """A translated message with doubled particles after its fields: ``.format`` resolves them."""

    def format(self, /, *args, **kwargs) -> str:  # type: ignore[override]
        return format_text(str(self), *args, **kwargs)


def _with_particles(text: str) -> str:
    return _Particled(text) if re.search(r"\}(?:" + _DOUBLED.pattern[1:] + "|번째)", text) else text


def _package_catalog(lang: str) -> dict[str, str]:
    if lang not in _package:
        _package[lang] = _read_po(LOCALE / lang / "LC_MESSAGES" / "cnnbook.po")
    return _package[lang]


def _(message: str) -> str:
    """The message in the learner's language (the English text when there is no current translation)."""
    lang = language()
    if lang == "en":
        return message
    return _with_particles(_package_catalog(lang).get(message, message))


def translation(message: str, lang: str) -> str:
    """``message`` in ``lang`` from the package catalog, whatever the learner's language (the English text when
    there is no current translation)."""
    return message if lang == "en" else _with_particles(_package_catalog(lang).get(message, message))


def N_(message: str) -> str:
    """Mark a message for the catalog where it is defined; translate it with ``_()`` where it is shown."""
    return message


def set_lesson(slug: str | None) -> None:
    """Say which lesson's checks run in this process now (the grader's judge, before each test; ``None``: the
    notebook's, as :func:`current_lesson` finds it). A lesson's f-string entries translate only its own messages."""
    global _lesson_chosen
    _lesson_chosen = slug


_lesson_chosen: str | None = None


def current_lesson(known: Iterable[str]) -> str | None:
    """The lesson among ``known`` whose checks run here: :func:`set_lesson`'s, else the lesson the notebook's file or
    one of its folders is named after (``my-work/ko/04_parameters/04_parameters.ipynb``, an nbgrader submission's
    ``04_parameters/``), from ``JPY_SESSION_NAME`` or, in a kernel started without it (nbconvert, nbgrader), the
    working folder; else None."""
    if _lesson_chosen:
        return _lesson_chosen
    where = os.environ.get("JPY_SESSION_NAME") or ""
    if not where and "ipykernel" in sys.modules:
        try:
            where = str(Path.cwd() / "notebook")
        except OSError:
            return None
    path, names = PurePath(where), set(known)
    return next((part for part in reversed([*path.parent.parts, path.stem]) if part in names), None)


def _lesson_catalog(lang: str) -> dict[str, str]:
    """Every lesson catalog's translations that can be read here: the course's ``solutions/*/<lang>.po`` where
    they are (an instructor's copy), and the learner's ``notebooks/<lang>/*/checks.po`` that release writes with
    the sentences of the visible checks only (the .po of ``solutions/`` quote hidden tests and are never released).
    The f-string entries are kept apart, by lesson (``_patterns``)."""
    if lang not in _lessons:
        merged: dict[str, str] = {}
        from autograde.lessons import NOTEBOOKS, SOLUTIONS     # nbgrader_config.py names them
        try:     # the learner's catalogs that release writes (visible checks only), then the course's own
            paths = sorted((NOTEBOOKS / lang).glob("*/checks.po")) + sorted(SOLUTIONS.glob(f"*/{lang}.po"))
        except OSError:
            paths = []
        by_lesson: dict[str, dict[str, str]] = {}
        for path in paths:
            merged.update(_read_po(path, by_lesson.setdefault(path.parent.name, {})))
        _lessons[lang] = merged
        everyone = {english: text for fstrings in by_lesson.values() for english, text in fstrings.items()}
        _lesson_fstrings[lang] = everyone
        _patterns[lang] = {slug: _ordered(fstrings) for slug, fstrings in [*by_lesson.items(), (None, everyone)]}
    return _lessons[lang]


def lesson_fstrings(lang: str) -> dict[str, str]:
    """Every lesson's f-string sentences (English -> their translation in ``lang``), as ``_lesson_catalog`` reads
    them: the class report reads a learner's line back into English by them."""
    _lesson_catalog(lang)
    return _lesson_fstrings.get(lang, {})


def _ordered(fstrings: dict[str, str]) -> list[tuple[re.Pattern[str], list[str], str]]:
    """The f-string entries as patterns, the most words first: "got {x!r}: exp(1000) overflows" before "got {x}",
    which would match it too."""
    return [(*_fstring_pattern(english), text) for english, text in
            sorted(fstrings.items(), key=lambda item: -len(_FIELD.sub("", item[0])))]


def _from_fstrings(text: str, lang: str) -> str | None:
    """The translation of ``text`` when it is what a translated f-string of its lesson gives (of any lesson when
    :func:`current_lesson` does not know which), else None."""
    _lesson_catalog(lang)
    by_lesson = _patterns.get(lang, {})
    lesson = current_lesson(slug for slug in by_lesson if slug)
    for pattern, fields, translation in by_lesson.get(lesson, []):
        found = pattern.fullmatch(text)
        if found:
            return _fill(translation, {field: found.group(f"f{i}") for i, field in enumerate(fields)})
    return None


def lesson_text(text):
    """A lesson author's words (a hint, a slip's name) in the learner's language; anything else unchanged."""
    if type(text) is not str:
        return text
    lang = language()
    if lang == "en":
        return text
    return _lesson_catalog(lang).get(text) or _package_catalog(lang).get(text) or _from_fstrings(text, lang) \
        or text
