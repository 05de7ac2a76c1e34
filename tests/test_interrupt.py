"""Ctrl-C: the compiled kernels stop within a tile, the command exits 130.

The command-line tests run ``segshift`` in a subprocess whose stderr is a
pseudo-terminal (so that the progress bar shows), wait for a state (the
progress bar, or the first output file of a batch), then a seeded random
moment more, and send SIGINT. scripts/stress_sigint.py sends it at random
moments of many runs and records the latencies.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import numba
import numpy as np
import pytest
from conftest import PHOTOS, cli_taking_ctrl_c, make_photos
from PIL import Image

from segshift import _interrupt
from segshift._meanshift import filter_image
from segshift._segment import segment


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own SIGINT handler during each test, as in a terminal: pytest started in the
    background (``cmd &``) inherits SIGINT ignored, and interruptible() then does nothing by design."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT and pseudo-terminals are POSIX")

ROOT = Path(__file__).resolve().parent.parent
# Generous: the command exits within about a second; a loaded machine may be slower.
LATENCY_BOUND = 5.0


def mosaic(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """Write a width x height photo made of the bundled photos (2 x 2, resized, with noise)."""
    rng = np.random.default_rng(seed)
    out = Image.new("RGB", (width, height))
    cw, ch = width // 2, height // 2
    for k, photo in enumerate(PHOTOS[:4]):
        with Image.open(photo) as im:
            out.paste(im.convert("RGB").resize((cw, ch), Image.BICUBIC), ((k % 2) * cw, (k // 2) * ch))
    pixels = np.asarray(out).astype(float) + rng.normal(0.0, 3.0, (height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


class Run:
    """``segshift ARGS`` with stderr on a pseudo-terminal, read as it comes."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        # a terminal of 100 columns (a new one has none: the bar would be empty)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
        self.process = subprocess.Popen(
            cli_taking_ctrl_c(*args), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
            env=env, start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            self.chunks.append(data)

    @property
    def stderr(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def wait_for(self, ready, timeout: float = 600.0) -> None:
        """Poll until ``ready()`` is true (the process must still be running)."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, f"ended ({self.process.returncode}) before the state: {self.stderr}"
            assert time.monotonic() < deadline, f"no state after {timeout} s: {self.stderr}"
            time.sleep(0.02)

    def interrupt(self) -> tuple[int, float]:
        """Send SIGINT; return the exit status and the seconds from the signal to the exit."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=120)
        latency = time.monotonic() - sent
        self.reader.join(timeout=10)
        os.close(self.master)
        self.process.stdout.close()
        return code, latency


def assert_clean(code: int, latency: float, stderr: str, folder: Path, allowed=()) -> None:
    assert code == 130, stderr
    assert latency < LATENCY_BOUND, (latency, stderr)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "interrupted" in stderr
    left = sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name not in allowed)
    for name in left:  # only whole files: no temporary file, nothing half-written
        assert not name.endswith(".tmp") and not name.startswith(".segshift-"), left
    scratch = [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name not in allowed]
    assert not scratch, scratch


def bar_shown(run: Run, label: str):
    return lambda: re.search(rf"{label}:\s+\d+%", run.stderr) is not None


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    # Large enough that mean shift at full resolution runs for many seconds.
    return mosaic(tmp_path_factory.mktemp("photo") / "photo.png", 1600, 1200)


# --------------------------------------------------------------------------- #
# The flag and the kernels
# --------------------------------------------------------------------------- #


def test_filter_stops_when_the_flag_is_set():
    rng = np.random.default_rng(3)
    luv = (rng.random((200, 300, 3)) * 50).astype(np.float32)
    full = filter_image(luv, 7.0, 6.5, compat="edison")
    _interrupt.FLAG[0] = 1
    try:
        with pytest.raises(KeyboardInterrupt):
            filter_image(luv, 7.0, 6.5, compat="edison")
        with pytest.raises(KeyboardInterrupt):
            filter_image(luv, 7.0, 6.5, speedup="fast")
    finally:
        _interrupt.FLAG[0] = 0
    assert np.array_equal(filter_image(luv, 7.0, 6.5, compat="edison"), full)


def test_progress_reports_every_climb_and_changes_nothing():
    rng = np.random.default_rng(5)
    image = (rng.random((150, 230, 3)) * 255).astype(np.uint8)
    calls: list[tuple[int, int]] = []
    with_bar = segment(image, resolution="full", progress=lambda done, total: calls.append((done, total)))
    plain = segment(image, resolution="full")
    assert np.array_equal(with_bar.labels, plain.labels)
    assert calls[0] == (0, 150 * 230) and calls[-1] == (150 * 230, 150 * 230)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) >= 2


def test_interruptible_turns_a_lost_or_wrapped_interrupt_into_keyboardinterrupt():
    # A KeyboardInterrupt numba wrapped in SystemError ("returned a result with an exception set")
    def wrapped():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc

    with pytest.raises(KeyboardInterrupt), _interrupt.interruptible():
        wrapped()
    # A SIGINT whose KeyboardInterrupt was lost (raised in a finaliser): still raised at the end
    with pytest.raises(KeyboardInterrupt), _interrupt.interruptible():
        _interrupt.FLAG[0] = 1
    assert _interrupt.FLAG[0] == 0  # cleared at the end of the block
    with pytest.raises(ValueError, match="bad"), _interrupt.interruptible():  # other errors pass unchanged
        raise ValueError("bad")


@numba.njit(nogil=True)
def _spin(limit):
    """A kernel that runs until Ctrl-C (or limit polls)."""
    n = 0
    while n < limit and not _interrupt.interrupted():
        n += 1
    return n


def test_sigint_stops_a_running_kernel():
    # SIGINT while the main thread is inside a compiled loop: Python's handler
    # cannot run, the watcher sets the flag and the loop returns.
    limit = 10**11  # minutes of polling
    _spin(10)
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))  # does not raise
    try:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        # raised by the block: the handler did not
        with pytest.raises(KeyboardInterrupt), _interrupt.interruptible():
            timer.start()
            started = time.monotonic()
            polls = _spin(limit)
            seconds = time.monotonic() - started
    finally:
        signal.signal(signal.SIGINT, previous)
    assert polls < limit and seconds < LATENCY_BOUND
    assert calls == [signal.SIGINT]
    assert _interrupt.FLAG[0] == 0


# --------------------------------------------------------------------------- #
# The command line
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("seed", [1, 2])
def test_segment_full_resolution_stops_within_the_filter(photo, tmp_path, seed):
    rng = np.random.default_rng(seed)
    out = tmp_path / "out"
    out.mkdir()
    run = Run(["segment", str(photo), "-o", str(out / "x.png"), "--labels", str(out / "x.labels.png"),
               "--resolution", "full", "-v"], tmp_path)
    run.wait_for(bar_shown(run, "segshift"))
    time.sleep(rng.uniform(0.0, 1.0))  # a seeded moment of the filter
    code, latency = run.interrupt()
    assert_clean(code, latency, run.stderr, out)
    assert not list(out.iterdir())


def test_segment_tiled_stops_within_a_block(photo, tmp_path):
    rng = np.random.default_rng(11)
    out = tmp_path / "out"
    out.mkdir()
    # mean shift at full resolution, block by block (the block-wise filter)
    run = Run(["segment", str(photo), "-o", str(out / "x.tif"), "--labels", str(out / "x.labels.tif"),
               "--tile-size", "64", "--scale", "fixed", "--resolution", "full", "-v"], tmp_path)
    run.wait_for(bar_shown(run, "segshift"))
    time.sleep(rng.uniform(0.0, 1.0))
    code, latency = run.interrupt()
    assert_clean(code, latency, run.stderr, out)
    assert not list(out.iterdir())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_batch_stops_and_leaves_only_whole_files(tmp_path, jobs):
    rng = np.random.default_rng(int(jobs))
    source = tmp_path / "in"
    out = tmp_path / "out"
    source.mkdir()
    make_photos(source, 12, rng, size=(280, 200))
    # The first Ctrl-C lets the files that are running finish (a second one
    # stops at once): photos of a fraction of a second each.
    run = Run(["batch", str(source), str(out), "--recursive", "--jobs", jobs, "--stats", "-v"], tmp_path)
    run.wait_for(lambda: out.is_dir() and any(p.suffix == ".png" for p in out.rglob("*")))
    time.sleep(rng.uniform(0.0, 0.5))
    code, latency = run.interrupt()
    assert_clean(code, latency, run.stderr, out, allowed=(".segshift-batch.lock",))  # the folder's lock stays
    for path in out.rglob("*"):
        if path.suffix == ".png":
            with Image.open(path) as im:
                im.load()
        elif path.suffix == ".json":
            json.loads(path.read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(row.get("status") == "interrupted" for row in manifest) or len(manifest) < 12


def test_segment_api_raises_keyboardinterrupt_within_the_filter(photo, tmp_path):
    script = (
        "import sys, segshift\n"
        "def progress(done, total):\n"
        "    if done > 0:\n"
        "        sys.stdout.write('climbing\\n'); sys.stdout.flush()\n"
        "try:\n"
        f"    segshift.segment({str(photo)!r}, resolution='full', progress=progress)\n"
        "except KeyboardInterrupt:\n"
        "    print('KeyboardInterrupt', flush=True); sys.exit(3)\n"
    )
    start = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    process = subprocess.Popen([sys.executable, "-c", start + script], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "climbing\n"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    latency = time.monotonic() - sent
    assert process.returncode == 3, err
    assert "KeyboardInterrupt" in out and "Exception ignored" not in err
    assert latency < LATENCY_BOUND
