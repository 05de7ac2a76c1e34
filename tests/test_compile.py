import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from segshift import _first_run
from segshift import _filter_kernels as _kernels
from segshift._compile import compile_notice, warm_up
from segshift.cli import COMPILING

ROOT = Path(__file__).resolve().parent.parent


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


# --------------------------------------------------------------------------- #
# One compiling run after an install, whatever the later runs' settings
# --------------------------------------------------------------------------- #

# The command line in a child process that records what numba compiles there
# (numba's compile events; loading from the disk cache sends none).
_CHILD = """
import json, sys
from numba.core import event

compiled = []

class Record(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)

    def on_end(self, ev):
        pass

event.register("numba:compile", Record())
from segshift.cli import main

status = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump(compiled, f)
sys.exit(status)
"""


def _cache_files(cache: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(cache)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in cache.rglob("*") if p.is_file()}


def test_only_the_first_run_after_an_install_compiles(tmp_path, photo_path):
    """A fresh kernel cache (as after an install): the first run says it compiles,
    and compiles every kernel the command line can use; a run with other
    settings and a tiled run then compile nothing and say nothing."""
    import tifffile
    from PIL import Image

    cache = tmp_path / "numba-cache"
    env = {k: v for k, v in os.environ.items() if k != "SEGSHIFT_NUMBA_CACHE"}
    env.update(NUMBA_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    with Image.open(photo_path) as im:
        tifffile.imwrite(tmp_path / "crop.tif", np.asarray(im.convert("RGB"))[:150, :200], tile=(64, 64))

    def run(name: str, *argv: str) -> tuple[str, list[str]]:
        events = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(events), *argv], check=False, cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr, json.loads(events.read_text())

    stderr, compiled = run("first", "segment", str(photo_path), "-o", "first.png")
    assert stderr.count(COMPILING) == 1
    assert len(stderr.strip().splitlines()) == 1, stderr  # the warm-up's own runs say nothing
    assert compiled and (tmp_path / "first.png").stat().st_size > 0
    filled = _cache_files(cache)
    assert filled

    stderr, compiled = run("other", "segment", str(photo_path), "-o", "other.png", "--scale", "fixed",
                           "--kernel", "gaussian", "--compat", "none")
    assert COMPILING not in stderr and compiled == []
    stderr, compiled = run("tiled", "segment", "crop.tif", "--tile-size", "64", "-o", "tiled.tif",
                           "--labels", "tiled.labels.tif")
    assert COMPILING not in stderr and compiled == []
    assert (tmp_path / "other.png").stat().st_size > 0 and (tmp_path / "tiled.labels.tif").stat().st_size > 0
    assert _cache_files(cache) == filled  # nothing added or rewritten


@pytest.fixture
def fake_warm_up(monkeypatch):
    """compile_once's warm-up, recorded instead of run, in a process where it has not run."""
    calls: list[str] = []
    monkeypatch.setattr(_first_run, "warm_up_all", lambda: calls.append("warm-up"))
    monkeypatch.setattr(_first_run, "NUMBA_CACHE", True)
    monkeypatch.setitem(_first_run._state, "warmed", False)
    return calls


def test_compile_once_warms_up_after_a_block_that_compiled(fake_warm_up):
    said = []

    @numba.njit(cache=False)
    def twice(x):
        return 2 * x

    with _first_run.compile_once(lambda: said.append("compiling")):
        twice(1)
        assert fake_warm_up == []  # after the block's own work, not during it
    assert said == ["compiling"] and fake_warm_up == ["warm-up"]
    with _first_run.compile_once(lambda: said.append("again")):
        twice(2)  # loaded already: no notice, no warm-up
    assert said == ["compiling"] and fake_warm_up == ["warm-up"]


def test_compile_once_does_nothing_more_after_a_block_that_compiled_nothing(fake_warm_up):
    @numba.njit(cache=False)
    def eight(x):
        return 8 * x

    eight(1)  # compiled before the block
    said = []
    with _first_run.compile_once(lambda: said.append("compiling")):
        assert eight(2) == 16
    assert said == [] and fake_warm_up == []


def test_compile_once_warms_up_once_a_process(fake_warm_up, monkeypatch):
    monkeypatch.setitem(_first_run._state, "warmed", True)  # warm_up_all completed here

    @numba.njit(cache=False)
    def six(x):
        return 6 * x

    with _first_run.compile_once(lambda: None):
        six(1)  # something the warm-up does not reach: running it again would not help
    assert fake_warm_up == []


def test_compile_once_does_not_warm_up_when_the_block_says_so(fake_warm_up):
    @numba.njit(cache=False)
    def five(x):
        return 5 * x

    with _first_run.compile_once(lambda: None) as ahead:
        five(1)
        ahead.wanted = False  # an interrupted run
    assert fake_warm_up == []


def test_compile_once_does_not_warm_up_after_an_error_or_without_a_disk_cache(fake_warm_up, monkeypatch):
    @numba.njit(cache=False)
    def three(x):
        return 3 * x

    with pytest.raises(KeyError), _first_run.compile_once(lambda: None):
        three(1)
        raise KeyError("bad input")
    assert fake_warm_up == []  # the error is reported at once
    monkeypatch.setattr(_first_run, "NUMBA_CACHE", False)

    @numba.njit(cache=False)
    def four(x):
        return 4 * x

    with _first_run.compile_once(lambda: None):
        four(1)  # would compile again in every run: nothing to do ahead
    assert fake_warm_up == []


def test_a_failed_warm_up_does_not_fail_the_run(fake_warm_up, monkeypatch):
    def broken() -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(_first_run, "warm_up_all", broken)

    @numba.njit(cache=False)
    def seven(x):
        return 7 * x

    failures = []
    with _first_run.compile_once(lambda: None, failed=failures.append):
        seven(1)
    assert [str(e) for e in failures] == ["no space left on device"]
    with pytest.raises(OSError, match="no space"), _first_run.compile_once(lambda: None):
        seven(2.0)
