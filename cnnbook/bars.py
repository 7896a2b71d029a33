"""Progress bars that say when their loop stopped early, instead of looking stuck.

A lesson's demonstration loop (training, a sweep) runs the learner's code inside it. When that code raises, the
cell's handler says what failed, but tqdm's notebook bar stays where it was: ``labels per class: 0% 0/1`` with an
empty bar (tqdm marks it red, which shows only on the part already filled: nothing at 0 %), which a learner in a
Korean trial of lesson 08 read as a run still going. :class:`tqdm` is ``tqdm.auto``'s bar with one change, made
where a bar ends (``close``, which tqdm calls when its loop is left, by an error or ``break``, and at the end of a
``with tqdm(total=...)`` block):

- a bar left short of its total that was to stay (``leave=True``, the default) keeps what it reached, red, and its
  description says it stopped (``training LeNet-5 (stopped)``, in the learner's language);
- a bar that was to disappear when done (``leave=False``, a bar inside a loop) disappears also when stopped: the
  cell's own sentence says what went wrong.

A bar that reaches its total ends as tqdm ends it. Lessons import it as ``from cnnbook.bars import tqdm``.
"""
from __future__ import annotations

from tqdm.auto import tqdm as _auto_tqdm  # type: ignore[import-untyped]

from .i18n import _

__all__ = ["tqdm"]


class tqdm(_auto_tqdm):   # the name lessons and learners know
    """``tqdm.auto.tqdm`` whose bar says it stopped (or disappears, with ``leave=False``) when its loop ends early."""

    def close(self) -> None:
        stopped = not self.disable and self.total is not None and self.n < self.total   # tqdm closes once
        if stopped and self.leave:
            self.set_description_str(_("{what} (stopped)").format(what=self.desc.rstrip(": ")) if self.desc
                                     else _("stopped"), refresh=False)
        super().close()
        if stopped and not self.leave:
            container = getattr(self, "container", None)   # the notebook's widget (absent in the text bar)
            if container is not None:
                container.close()
                container.layout.visibility = "hidden"
