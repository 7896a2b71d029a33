"""The learner's kernel: ipykernel as ``python -m ipykernel_launcher`` runs it, except that its IOPub socket never
drops an output, and ``exit()`` or ``quit()`` in a cell does not end it.

zmq lets a publishing socket hold 1,000 messages for a subscriber (and the subscriber 1,000 more) and drops the
rest without a word. A grader that reads a little late (a loaded machine, a cell that displays in a loop) then
kept fewer outputs than the cell made: 1,777 of 2,000 in one run. Here the kernel's IOPub socket has no such
limit: what the grader has not read yet waits in the kernel's own memory, under the kernel's own memory limit. The
grader's side stays bounded (its socket's limit, and ``kernel.InboundGuard``); what it keeps of a cell's outputs is
capped where it reads them (``kernel.MAX_OUTPUTS``).

Forked kernels run :func:`launch` in the zygote's child (``autograde.forked``); kernels started fresh run
``python -m autograde.kernel_app -f CONNECTION_FILE`` (``sandbox.Sandbox.kernel_argv``).
"""
from __future__ import annotations

import sys
from pathlib import Path


def launch(argv: list[str]) -> None:
    """Run the kernel (``argv``: ipykernel's arguments, ``-f CONNECTION_FILE``) until it is shut down."""
    from ipykernel.kernelapp import IPKernelApp

    class LearnerKernelApp(IPKernelApp):
        def init_iopub(self, context):
            context.sndhwm = 0            # the IOPub socket made now: no limit (sockets made after it: zmq's)
            try:
                super().init_iopub(context)
            finally:
                del context.sndhwm

        def init_kernel(self):
            super().init_kernel()
            shell = self.kernel.shell

            def ask_exit():
                # exit() and quit() end ipykernel a moment after the cell has answered "ok": the grader then found
                # the kernel dead in the next cell, and every replacement died again when the cells that had run
                # cleanly were replayed, exit() among them (every later test lost). Here they end nothing.
                print("[grader] exit() and quit() do not stop the kernel while the notebook is graded: the cells "
                      "after this one run on.", file=sys.stderr)

            shell.ask_exit = ask_exit

    LearnerKernelApp.launch_instance(argv)


if __name__ == "__main__":
    # As ipykernel_launcher does: not the folder it was started in while the kernel's modules are imported
    # (a learner's file there would shadow them); IPython puts it back for the learner's code.
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    launch(sys.argv[1:])
