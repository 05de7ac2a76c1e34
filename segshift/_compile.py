"""Compiling the kernels: say so while it happens, and compile ahead of workers.

The compiled kernels are cached on disk (see ``_config``), so only the first
run after an install (or a numba upgrade) compiles them. :func:`compile_notice`
lets a caller say why a run is slow; :func:`warm_up` compiles (or loads) the
kernels of given settings in one process before worker processes start, so
that they load them from the cache instead of each compiling them at once on
the same cores. Compiling every kernel the command line can use after its
first run is :mod:`segshift._first_run`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

@contextlib.contextmanager
def compile_notice(say: Callable[[], None]) -> Iterator[None]:
    """Call ``say()`` once, when numba starts compiling within the block
    (never when every kernel comes from the disk cache)."""
    from numba.core import event

    class Notice(event.Listener):
        said = False

        def on_start(self, _event) -> None:
            if not self.said:
                self.said = True
                say()

        def on_end(self, _event) -> None:
            pass

    with event.install_listener("numba:compile", Notice()):
        yield


def warm_up(settings: Iterable[Mapping[str, Any]], *, evaluate: bool = False) -> bool:
    """Compile or load the kernels that ``segment(image, **setting)`` uses for
    each setting (and, with ``evaluate``, the scoring kernels) by running them
    on a tiny image. Returns True when numba compiled anything (False: all
    came from the on-disk cache, or were loaded already)."""
    from ._segment import segment

    compiled: list[bool] = []
    image = np.random.default_rng(0).random((24, 24, 3))
    flat = np.zeros((10, 12, 3))  # one region, no borders: empty arrays of other types in the merging
    labels = np.zeros((24, 24), dtype=np.int32)
    with compile_notice(lambda: compiled.append(True)):
        for setting in settings:
            segment(flat, **{**setting, "min_size": 5})
            labels = segment(image, **{**setting, "min_size": 5}).labels
        if evaluate:
            from .evaluate import evaluate_segmentation

            evaluate_segmentation(labels, [labels])
    return bool(compiled)


