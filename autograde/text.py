"""Text a learner wrote, made fit for the files, terminals and databases the grader writes it to."""
from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: Any) -> Any:
    """``value`` with every string in it (through dicts, lists and tuples) made valid Unicode: a lone surrogate
    becomes U+FFFD. A learner can put one in any text the grader writes out (a JSON escape "\\ud800" in their
    notebook, the message of an exception their code raises, a file name that is not UTF-8), and no UTF-8 file,
    terminal or database takes it: written as it is, it stops the whole batch. Dicts and lists are changed in
    place (a notebook stays a NotebookNode)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        items = [(valid_text(k), valid_text(v)) for k, v in value.items()]
        value.clear()
        value.update(items)
        return value
    if isinstance(value, list):
        value[:] = [valid_text(item) for item in value]
        return value
    if isinstance(value, tuple):
        return tuple(valid_text(item) for item in value)
    return value
