"""Numba settings, read in one place.

``SEGSHIFT_NUMBA_CACHE=0`` turns the on-disk kernel cache off (for example on
a read-only install); the thread count follows numba's ``NUMBA_NUM_THREADS``
and :func:`numba.set_num_threads`.
"""

from __future__ import annotations

import os

NUMBA_CACHE = os.environ.get("SEGSHIFT_NUMBA_CACHE", "1") != "0"
# fastmath would let LLVM reorder sums, and then results could differ with the
# thread count or the CPU; segshift promises identical output, so it stays off.
NUMBA_FASTMATH = False
NUMBA_PARALLEL = True
# The window sums of the mean-shift kernel may be reassociated so that LLVM can
# vectorise them. Each pixel's sums still run in one fixed order on a given
# machine, so results do not depend on the thread count or the run.
SIMD_FASTMATH = {"reassoc", "nsz", "contract"}

JIT = dict(cache=NUMBA_CACHE, fastmath=NUMBA_FASTMATH, nogil=True)
JIT_SIMD = dict(JIT, fastmath=SIMD_FASTMATH, boundscheck=False)
JIT_PARALLEL = dict(JIT, parallel=NUMBA_PARALLEL)
