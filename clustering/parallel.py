"""Two pieces of work at once on a two-core laptop, results unchanged.

Seeded UMAP and HDBSCAN's tree building each run on one core. When a second core
is free (Linux, where a process can be forked cheaply), :func:`side_by_side` runs
one piece here and the other in a forked child, which inherits the data (nothing
is copied up front) and sends back only its result. Each side is limited to one
BLAS thread so the two do not fight over the cores. If the child fails, its
piece is run here afterwards, so the result never depends on the child.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

Here = TypeVar("Here")
There = TypeVar("There")


def can_fork() -> bool:
    """Whether a second core is free and this process can be forked safely."""
    return (
        sys.platform == "linux"
        and len(os.sched_getaffinity(0)) >= 2
        and not _numba_on_openmp()
    )


def prefer_fork_safe_numba() -> None:
    """Before numba's first parallel loop, choose its workqueue threading layer.

    UMAP runs some loops in parallel with numba, whose default layer here is GNU
    OpenMP: a process forked after that aborts ("fork() called from a process
    already using GNU OpenMP"). The workqueue layer survives a fork. Nothing is
    changed once numba has started its threads or when a layer was chosen (for
    example with ``$NUMBA_THREADING_LAYER``).
    """
    import numba
    from numba.np.ufunc import parallel as numba_parallel

    if not numba_parallel._is_initialized and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"


def _numba_on_openmp() -> bool:
    """Whether numba's threads run on OpenMP already (then no fork is safe)."""
    if "numba" not in sys.modules:
        return False
    import numba
    from numba.np.ufunc import parallel as numba_parallel

    return bool(numba_parallel._is_initialized) and numba.threading_layer() == "omp"


def _child(sender, work: Callable[[], object]) -> None:
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(1):
            value = work()
        sender.send(("done", value))
    except BaseException as error:  # reported to the parent, which redoes it
        sender.send(("failed", repr(error)))
    finally:
        sender.close()


def side_by_side(
    here: Callable[[], Here], there: Callable[[], There]
) -> tuple[Here, There]:
    """``(here(), there())``, the second computed in a forked process meanwhile.

    Falls back to running both here, one after the other, when the machine has
    one core or cannot fork.
    """
    if not can_fork():
        return here(), there()
    import multiprocessing

    from threadpoolctl import threadpool_limits

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, there), daemon=True)
    child.start()
    sender.close()
    try:
        with threadpool_limits(1):
            mine = here()
        try:
            status, theirs = receiver.recv()
        except EOFError:
            status, theirs = "failed", "the process ended without an answer"
    finally:
        receiver.close()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    if status != "done":
        logger.warning("the work beside this one failed (%s); doing it here", theirs)
        theirs = there()
    return mine, theirs
