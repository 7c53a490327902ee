"""Two pieces of work at once: really in two processes, and safe when one fails."""

import logging
import os

import numpy as np

from clustering.parallel import can_fork, side_by_side
from clustering.reduce import reduce_vectors


def test_the_second_piece_runs_in_another_process_even_after_umap(blobs):
    # UMAP starts numba's parallel threads; a fork after them must still work.
    vectors, _ = blobs
    reduce_vectors(vectors)
    assert can_fork()  # Linux with two cores, as on the CI machine
    here, there = side_by_side(os.getpid, os.getpid)
    assert here == os.getpid() and there != here


def test_a_failed_piece_is_redone_here(caplog):
    calls = []

    def there():
        calls.append(os.getpid())
        if os.getpid() != parent:
            raise RuntimeError("lost in the child")
        return "done here"

    parent = os.getpid()
    with caplog.at_level(logging.WARNING, logger="clustering.parallel"):
        here, done = side_by_side(lambda: np.arange(3).sum(), there)
    assert (here, done) == (3, "done here")
    assert calls == [parent]  # the child's attempt is not seen here
    assert "lost in the child" in caplog.text
