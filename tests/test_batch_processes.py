"""``segshift batch`` as a process among others: a second run into the same
output folder, and a run killed with SIGKILL (its pool workers and
multiprocessing's resource tracker must end with it; the next run takes the
folder and resumes).

Real ``segshift batch`` processes on real files; every wait is on a state
(a file, a line, a process list), bounded by a generous deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_photos

from segshift.batch import LOCK_NAME, lock_output_folder, run_batch
from segshift.cli import main
from segshift.errors import OutputError

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 240.0  # seconds: a loaded machine may compile the kernels first

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def batch_process(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "segshift.cli", "batch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, deadline: float = DEADLINE):
    """Poll ``condition()`` until it is true (returns its value); fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the batch ended ({proc.returncode}) before {what}: {proc.stderr.read()}")
        time.sleep(0.02)
    raise AssertionError(f"no {what} after {deadline:.0f} s")


def photos(tmp_path: Path, n: int, seed: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, n, np.random.default_rng(seed), size=(240, 180))
    return folder


def manifest_of(out: Path) -> dict[str, dict]:
    return {r["input"]: r for r in json.loads((out / "manifest.json").read_text())}


# --------------------------------------------------------------------------- #
# /proc, read directly: the processes of a batch and whether they are gone
# --------------------------------------------------------------------------- #


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (name) "
    return fields[0], int(fields[1]), int(fields[19])


def children(parent: int) -> dict[tuple[int, int], str]:
    """``{(pid, start time): command line}`` of the live children of ``parent``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is None or stat[1] != parent or stat[0] == "Z":
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[(int(entry), stat[2])] = cmdline
    return found


def alive(process: tuple[int, int]) -> bool:
    """Whether the process (pid, start time) still runs (a zombie has ended; a reused pid is another)."""
    stat = _stat(process[0])
    return stat is not None and stat[0] != "Z" and stat[2] == process[1]


# --------------------------------------------------------------------------- #
# One run per output folder
# --------------------------------------------------------------------------- #


def test_a_second_batch_into_a_busy_folder_fails_at_once_and_the_first_completes(tmp_path, capsys):
    N = 24
    folder = photos(tmp_path, N, seed=21)
    out = tmp_path / "out"
    first = batch_process(str(folder), str(out), "-R", "-j", "1", "--stats")
    try:
        lock = out / LOCK_NAME
        wait_for(lambda: lock.is_file() and f"pid {first.pid} " in lock.read_text(), "lock taken", first)
        before = sorted(p.name for p in out.rglob("*.stats.json"))

        code = main(["batch", str(folder), str(out), "-R", "-j", "1", "--stats"])
        err = capsys.readouterr().err
        # Exit 1, not 2: the arguments are right (the same command succeeds
        # once the other run ends); the output folder cannot be written now.
        assert code == 1
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err == (f"segshift: error: {out}: another segshift batch (pid {first.pid} on {os.uname().nodename} "
                       f"since {lock.read_text().split(' since ')[1].strip()}) is writing into this folder; "
                       "wait for it to end or choose another output folder\n")
        assert not (out / "manifest.json").exists()  # the second run wrote no manifest, nor anything else

        _, stderr = first.communicate(timeout=DEADLINE)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr
    manifest = manifest_of(out)
    # Every file was segmented by the first run: none was skipped or done twice.
    assert len(manifest) == N and all(r["status"] == "ok" for r in manifest.values())
    assert len(before) < N

    # Once the first has ended, the folder is free again.
    assert main(["batch", str(folder), str(out), "-R", "-j", "1", "--stats"]) == 0
    assert f"0 segmented, {N} skipped" in capsys.readouterr().err


def test_the_lock_is_the_folders_not_the_processes(tmp_path):
    """Within one process too, a second run into a held folder is refused, and the lock file stays after."""
    folder = photos(tmp_path, 1, seed=2)
    out = tmp_path / "out"
    out.mkdir()
    with lock_output_folder(out) as lock:
        assert lock == out / LOCK_NAME
        with pytest.raises(OutputError, match=r"another segshift batch \(pid \d+ on .* since .*\) is writing"):
            run_batch(folder, out, jobs=1)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    assert run_batch(folder, out, jobs=1).counts["ok"] == 1
    assert (out / LOCK_NAME).is_file()


def test_a_killed_run_leaves_no_lock_and_the_next_run_resumes(tmp_path, capsys):
    N = 24
    folder = photos(tmp_path, N, seed=22)
    out = tmp_path / "out"
    proc = batch_process(str(folder), str(out), "-R", "-j", "1", "--stats")
    try:
        wait_for(lambda: list(out.rglob("*.stats.json")), "file finished", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (out / LOCK_NAME).is_file() and not (out / "manifest.json").exists()
    done = len(list(out.rglob("*.stats.json")))
    assert done < N

    assert main(["batch", str(folder), str(out), "-R", "-j", "1", "--stats"]) == 0
    err = capsys.readouterr().err
    assert f"{N - done} segmented, {done} skipped (done before), 0 failed" in err
    assert all(r["status"] in ("ok", "skipped") for r in manifest_of(out).values())


# --------------------------------------------------------------------------- #
# Pool workers end with the batch, however it ends
# --------------------------------------------------------------------------- #


def test_pool_workers_and_the_resource_tracker_end_when_the_batch_is_killed(tmp_path, capsys):
    N = 48
    folder = photos(tmp_path, N, seed=23)
    out = tmp_path / "out"
    proc = batch_process(str(folder), str(out), "-R", "-j", "2", "--stats")
    try:
        def workers_busy():
            found = children(proc.pid)
            workers = [p for p, cmd in found.items() if "spawn_main" in cmd]
            trackers = [p for p, cmd in found.items() if "resource_tracker" in cmd]
            # Both workers exist and segment (a file is done), the tracker runs.
            return found if len(workers) == 2 and trackers and list(out.rglob("*.stats.json")) else None

        found = wait_for(workers_busy, "two busy pool workers", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Every process the batch had started ends: the workers (told by the
    # kernel, or their watching thread), then the tracker (its pipe closed).
    wait_for(lambda: not any(alive(p) for p in found), "end of the workers and the resource tracker",
             deadline=60)

    # The next run takes the folder and does only what is left.
    done = len(list(out.rglob("*.stats.json")))
    assert main(["batch", str(folder), str(out), "-R", "-j", "2", "--stats"]) == 0
    assert f"{N - done} segmented, {done} skipped (done before), 0 failed" in capsys.readouterr().err
