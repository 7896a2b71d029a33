"""The learner's language: English (the source) or Korean (한국어판).

Messages of ``cnnbook`` and of the self-check are written in English and wrapped in ``_()``; their Korean
text lives in the gettext catalog ``cnnbook/locale/ko/LC_MESSAGES/cnnbook.po`` (read with Babel when Korean is
first needed; nothing is compiled). Words a lesson's test cells pass to the checks (``hint=``, the names of
``mistakes=``, ``hidden_case`` sentences, ``check_true`` explanations) are translated through that lesson's own
catalog, ``solutions/NN_slug/ko.po``, or for a learner without ``solutions/`` the released
``notebooks/ko/NN_slug/checks.po`` with the visible checks' sentences (see ``autograde.i18n``), so the test cells themselves stay identical in
both editions and are graded alike. A check's name written in words is translated the same way; an f-string
name's entry (flagged ``f-string``) is its text with the fields as written, ``parameters of AlexNet({n_classes})``:
the shown name is matched against the English around the fields, and the values found there fill the same
fields of the translation.

Which language, first match wins:

1. ``set_language("ko")`` (or ``"en"``) in a notebook or a program;
2. the environment variable ``CNNBOOK_LANG`` (``python -m cnnbook.lab --lang ko`` sets it for JupyterLab and so
   for every kernel it starts; ``python -m autograde check --lang ko`` sets it for its own run);
3. the notebook itself: a notebook under a folder named ``ko`` (``notebooks/ko/...``, ``my-work/ko/...``) runs in
   Korean, read from ``JPY_SESSION_NAME``, the notebook path Jupyter gives every kernel it starts;
4. otherwise English.
"""
from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

__all__ = ["LANGUAGES", "language", "set_language", "_", "N_", "lesson_text", "translation"]

LANGUAGES = ("en", "ko")
LOCALE = Path(__file__).resolve().parent / "locale"
ROOT = Path(__file__).resolve().parent.parent

_chosen: str | None = None
_package: dict[str, dict[str, str]] = {}
_lessons: dict[str, dict[str, str]] = {}
_patterns: dict[str, list[tuple[re.Pattern[str], list[str], str]]] = {}
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
    return "en"


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
    """A regular expression that matches what the f-string ``text`` gives, a group per distinct field."""
    parts: list[str] = []
    fields: list[str] = []
    pos = 0
    for m in _FIELD.finditer(text):
        parts.append(re.escape(text[pos:m.start()]))
        if m.group(1) is None:                          # {{ or }}: one brace
            parts.append(re.escape(m.group(0)[0]))
        elif m.group(1) in fields:                      # the same field again: the same value
            parts.append(f"(?P=f{fields.index(m.group(1))})")
        else:
            fields.append(m.group(1))
            parts.append(f"(?P<f{len(fields) - 1}>.+?)")
        pos = m.end()
    parts.append(re.escape(text[pos:]))
    return re.compile("".join(parts), re.S), fields


def _fill(translation: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: m.group(0)[0] if m.group(1) is None else values.get(m.group(1), m.group(0)),
                      translation)


def _package_catalog(lang: str) -> dict[str, str]:
    if lang not in _package:
        _package[lang] = _read_po(LOCALE / lang / "LC_MESSAGES" / "cnnbook.po")
    return _package[lang]


def _(message: str) -> str:
    """The message in the learner's language (the English text when there is no current translation)."""
    lang = language()
    if lang == "en":
        return message
    return _package_catalog(lang).get(message, message)


def translation(message: str, lang: str) -> str:
    """``message`` in ``lang`` from the package catalog, whatever the learner's language (the English text when
    there is no current translation)."""
    return message if lang == "en" else _package_catalog(lang).get(message, message)


def N_(message: str) -> str:
    """Mark a message for the catalog where it is defined; translate it with ``_()`` where it is shown."""
    return message


def _lesson_catalog(lang: str) -> dict[str, str]:
    """Every lesson catalog's translations that can be read here: the course's ``solutions/*/<lang>.po`` where
    they are (an instructor's copy), and the learner's ``notebooks/<lang>/*/checks.po`` that release writes with
    the sentences of the visible checks only (the .po of ``solutions/`` quote hidden tests and are never released)."""
    if lang not in _lessons:
        merged: dict[str, str] = {}
        from autograde.lessons import NOTEBOOKS, SOLUTIONS     # nbgrader_config.py names them
        try:     # the learner's catalogs that release writes (visible checks only), then the course's own
            paths = sorted((NOTEBOOKS / lang).glob("*/checks.po")) + sorted(SOLUTIONS.glob(f"*/{lang}.po"))
        except OSError:
            paths = []
        fstrings: dict[str, str] = {}
        for path in paths:
            merged.update(_read_po(path, fstrings))
        _lessons[lang] = merged
        _patterns[lang] = [(*_fstring_pattern(english), text) for english, text in fstrings.items()]
    return _lessons[lang]


def _from_fstrings(text: str, lang: str) -> str | None:
    """The translation of ``text`` when it is what a translated f-string name gives, else None."""
    _lesson_catalog(lang)
    for pattern, fields, translation in _patterns.get(lang, []):
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
