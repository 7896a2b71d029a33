"""Your progress over the whole course, in a notebook: ``from cnnbook.progress import show_progress``.

``show_progress()`` runs the same checks as ``python -m autograde progress`` (the grader's own engine, on
your copies in ``my-work/``, else on ``notebooks/``) and shows one table: every lesson, every exercise,
pass / fail / not started, with points. It checks the notebooks as saved on disk: save first (Ctrl+S).
A lesson that has not changed since the last look is not run again, so the second call is quick.
"""
from __future__ import annotations

import html

from .i18n import N_, _

__all__ = ["progress_html", "show_progress"]

COLOURS = {"pass": ("#1a7f37", N_("✔ pass")), "fail": ("#b3261e", N_("✘ fail")),
           "not started": ("#57606a", N_("· not started"))}


def progress_html(progress) -> str:
    """An HTML table of a list of ``autograde.progress.LessonProgress`` (text escaped, no scripts)."""
    rows = []
    for lesson in progress:
        rows.append(f'<tr class="cnnbook-progress-lesson"><th colspan="3" style="text-align:left;padding-top:6px">'
                    f'{html.escape(lesson.slug)}</th><th style="text-align:right">{lesson.score:g}/'
                    f'{lesson.max_score:g}</th></tr>')
        for e in lesson.exercises:
            colour, label = COLOURS[e.status]
            rows.append(f'<tr><td style="padding-left:1.5em"><code>{html.escape(e.name)}</code></td>'
                        f'<td style="color:{colour};font-weight:600;white-space:nowrap">{html.escape(_(label))}</td>'
                        f'<td style="color:#444;font-size:90%">{html.escape(e.message[:160])}</td>'
                        f'<td style="text-align:right">{e.score:g}/{e.points:g}</td></tr>')
        if lesson.note:
            rows.append(f'<tr><td></td><td colspan="3" style="color:#444;font-size:90%">'
                        f'{html.escape(lesson.note[:300])}</td></tr>')
    total = sum(p.score for p in progress)
    possible = sum(p.max_score for p in progress)
    passing = sum(p.count("pass") for p in progress)
    count = sum(len(p.exercises) for p in progress)
    footer = _("Total: {total}/{possible} points; {done} of {count} exercises pass.").format(
        total=f"{total:g}", possible=f"{possible:g}", done=passing, count=count)
    if progress and not all(p.hidden_included for p in progress):
        footer += " " + _("Visible tests only: the hidden tests run when your instructor grades the notebooks.")
    return (f'<div class="cnnbook-progress"><table style="border-collapse:collapse">{"".join(rows)}</table>'
            f'<p><b>{html.escape(footer)}</b></p></div>')


def show_progress(lessons: list[str] | None = None, fresh: bool = False):
    """Check every lesson (or the ``lessons`` given, e.g. ``["03", "04"]``) and show the table.

    Returns the list of ``LessonProgress`` for code that wants the numbers.
    """
    import ipywidgets as widgets
    from IPython.display import HTML, display

    from autograde.lessons import all_lessons, find_lesson
    from autograde.progress import course_progress

    chosen = [find_lesson(n) for n in lessons] if lessons else all_lessons()
    bar = widgets.IntProgress(min=0, max=max(len(chosen), 1), description=_("Checking"), bar_style="info",
                              layout=widgets.Layout(width="60%"))
    label = widgets.Label("")
    box = widgets.HBox([bar, label])
    display(box)

    def started(i, lesson):
        bar.value = i
        label.value = f"{lesson.slug} ({i + 1}/{len(chosen)})"

    try:
        progress = course_progress(chosen, use_cache=not fresh, on_start=started)
    finally:
        box.close()
    display(HTML(progress_html(progress)))
    return progress
