"""The learner's language: English (the source) or Korean (한국어판).

Messages of ``cnnbook`` and of the self-check are written in English and wrapped in ``_()``; their Korean
text lives in the gettext catalog ``cnnbook/locale/ko/LC_MESSAGES/cnnbook.po`` (read with Babel when Korean is
first needed; nothing is compiled). Words a lesson's test cells pass to the checks (``hint=``, the names of
``mistakes=``, ``hidden_case`` sentences, ``check_true`` explanations) are translated through that lesson's own
catalog, ``solutions/NN_slug/ko.po``, or for a learner without ``solutions/`` the released
``notebooks/ko/NN_slug/checks.po`` with the visible checks' sentences (see ``autograde.i18n``), so the test cells themselves stay identical in
both editions and are graded alike.

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
from pathlib import Path, PurePath

__all__ = ["LANGUAGES", "language", "set_language", "_", "N_", "lesson_text", "translation"]

LANGUAGES = ("en", "ko")
LOCALE = Path(__file__).resolve().parent / "locale"
ROOT = Path(__file__).resolve().parent.parent

_chosen: str | None = None
_package: dict[str, dict[str, str]] = {}
_lessons: dict[str, dict[str, str]] = {}


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


def _read_po(path: Path) -> dict[str, str]:
    """``{English: translation}`` of a catalog's current entries (no fuzzy, no empty ones)."""
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
    return out


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
        for path in paths:
            merged.update(_read_po(path))
        _lessons[lang] = merged
    return _lessons[lang]


def lesson_text(text):
    """A lesson author's words (a hint, a slip's name) in the learner's language; anything else unchanged."""
    if type(text) is not str:
        return text
    lang = language()
    if lang == "en":
        return text
    return _lesson_catalog(lang).get(text) or _package_catalog(lang).get(text) or text
