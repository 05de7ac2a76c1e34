import numba
import numpy as np

from segshift import _filter_kernels as _kernels
from segshift._compile import compile_notice, warm_up


def test_compile_notice_speaks_once_and_only_while_numba_compiles():
    calls = []

    @numba.njit(cache=False)
    def add_one(x):
        return x + 1

    with compile_notice(lambda: calls.append("compiling")):
        add_one(1)
        add_one(2.0)  # a second compilation in the same block: no second notice
    assert calls == ["compiling"]
    with compile_notice(lambda: calls.append("again")):
        add_one(3)  # compiled already: nothing to say
    assert calls == ["compiling"]


def test_warm_up_compiles_what_segment_needs():
    warm_up([{"speedup": "fast"}])
    assert _kernels.filter_grid.signatures
    assert _kernels.assign_from_seeds.signatures
    calls = []
    with compile_notice(lambda: calls.append("compiling")):
        from segshift import segment

        segment(np.zeros((10, 12, 3)), speedup="fast")
    assert calls == []
