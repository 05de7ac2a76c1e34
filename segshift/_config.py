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

JIT = dict(cache=NUMBA_CACHE, fastmath=NUMBA_FASTMATH, nogil=True)
JIT_PARALLEL = dict(JIT, parallel=NUMBA_PARALLEL)
