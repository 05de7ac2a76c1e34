"""Kill ``segshift batch --jobs 2`` with SIGKILL at random moments and check
what a killed run leaves behind: processes (pool workers, multiprocessing's
resource tracker), a stuck output folder, or outputs a rerun cannot use.

A first, whole run gives the time to its first finished file, F, and the
rest of its run time, W. Each trial then starts the batch into a fresh
output folder and kills it either while it starts (a quarter of the trials:
a random delay in [0, F] from its start) or while its workers segment (a
random delay in [0, W] after its first finished file); it then waits
up to ``--grace`` seconds for every process it had started to end, and runs
the same command again: it must take the folder (no "another batch"
refusal), skip what the killed run finished, do the rest, and leave only
complete outputs and no temporary files. Linux only (reads /proc). Writes
its figures to docs/benchmarks/stress_batch_kill.json.

    python scripts/stress_batch_kill.py --trials 6      # about 3 minutes on 2 busy cores
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "images"


def _stat(pid: int) -> tuple[str, int, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def _children(parent: int) -> set[tuple[int, int]]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == parent and stat[0] != "Z":
                found.add((int(entry), stat[2]))
    return found


def _alive(process: tuple[int, int]) -> bool:
    stat = _stat(process[0])
    return stat is not None and stat[0] != "Z" and stat[2] == process[1]


def _photos(folder: Path, n: int, seed: int) -> None:
    from PIL import Image

    rng = random.Random(seed)
    sources = sorted(IMAGES.glob("*.jpg"))
    folder.mkdir(parents=True)
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            x, y = rng.randrange(im.width - 240), rng.randrange(im.height - 180)
            im.convert("RGB").crop((x, y, x + 240, y + 180)).save(folder / f"img{i:03d}.png")


def _command(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "segshift.cli", "batch", str(folder), str(out), "-j", "2", "--stats", "-q"]


def _check_outputs(out: Path) -> tuple[dict[str, int], int]:
    """Statuses of the manifest, and how many of its outputs decode (each must)."""
    from PIL import Image

    manifest = json.loads((out / "manifest.json").read_text())
    decoded = 0
    for record in manifest:
        for name in record["outputs"]:
            path = out / name
            if name.endswith(".png"):
                with Image.open(path) as im:
                    im.load()
            else:
                json.loads(path.read_text())
            decoded += 1
    return {s: sum(r["status"] == s for r in manifest) for s in ("ok", "skipped", "failed", "interrupted")}, decoded


def _first_output(proc: subprocess.Popen, out: Path, seen: set[tuple[int, int]]) -> float:
    """Wait until the batch has finished a file (or ended), recording its children; the seconds waited."""
    start = time.monotonic()
    while proc.poll() is None and not any(out.glob("*.stats.json")):
        seen |= _children(proc.pid)
        time.sleep(0.01)
    return time.monotonic() - start


def trial(folder: Path, out: Path, phase: str, delay: float, grace: float, env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.Popen(_command(folder, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    seen: set[tuple[int, int]] = set()
    if phase == "working":
        _first_output(proc, out, seen)
    end = time.monotonic() + delay
    while time.monotonic() < end and proc.poll() is None:
        seen |= _children(proc.pid)  # every process it starts, recorded before the kill
        time.sleep(0.01)
    finished = proc.poll() is not None
    if not finished:
        seen |= _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = time.monotonic()
    left = {p for p in seen if _alive(p)}
    while left and time.monotonic() - killed_at < grace:
        time.sleep(0.05)
        left = {p for p in left if _alive(p)}
    ended = None if left else round(time.monotonic() - killed_at, 3)
    for pid, _ in left:  # end what should have ended, so that the trials stay independent
        os.kill(pid, signal.SIGKILL)
    done = len(list(out.glob("*.stats.json")))
    rerun = subprocess.run(_command(folder, out), env=env, capture_output=True, text=True, check=False)
    statuses, decoded = _check_outputs(out)
    return {
        "phase": phase,
        "delay_s": round(delay, 3),
        "ended_on_its_own": finished,
        "processes_started": len(seen),
        "processes_left_after_grace": len(left),
        "seconds_until_all_ended": ended,
        "files_done_before_the_kill": done,
        "rerun_returncode": rerun.returncode,
        "rerun_refused_busy_folder": "another segshift batch" in rerun.stderr,
        "rerun_statuses": statuses,
        "outputs_decoded": decoded,
        "temporary_files_left": len(list(out.rglob("*.tmp"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--grace", type=float, default=15.0, help="seconds the processes get to end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks" / "stress_batch_kill.json"))
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("reads /proc: Linux only")
    rng = random.Random(args.seed)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    root = Path(tempfile.mkdtemp(prefix="stress-batch-kill-"))
    try:
        folder = root / "in"
        _photos(folder, args.files, args.seed)
        start = time.monotonic()
        whole = subprocess.Popen(_command(folder, root / "whole"), env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        first = _first_output(whole, root / "whole", set())
        _, stderr = whole.communicate()
        work = time.monotonic() - start - first
        if whole.returncode != 0:
            sys.exit(f"the whole run failed: {stderr}")
        trials = []
        for k in range(args.trials):
            phase = "starting" if rng.random() < 0.25 else "working"
            delay = rng.uniform(0.0, first if phase == "starting" else work)
            result = trial(folder, root / f"out{k}", phase, delay, args.grace, env)
            trials.append(result)
            print(f"trial {k + 1}: {result}", flush=True)
        summary = {
            "whole_run_first_file_s": round(first, 2),
            "whole_run_rest_s": round(work, 2),
            "trials": len(trials),
            "killed": sum(not t["ended_on_its_own"] for t in trials),
            "killed_with_workers_running": sum(not t["ended_on_its_own"] and int(t["processes_started"]) > 0
                                               for t in trials),
            "processes_left_after_grace": sum(int(t["processes_left_after_grace"]) for t in trials),
            "max_seconds_until_all_ended": max(
                (t["seconds_until_all_ended"] for t in trials if t["seconds_until_all_ended"] is not None),
                default=None),
            "reruns_refused_busy_folder": sum(bool(t["rerun_refused_busy_folder"]) for t in trials),
            "reruns_not_exit_0": sum(t["rerun_returncode"] != 0 for t in trials),
            "reruns_with_failed_or_interrupted": sum(
                t["rerun_statuses"]["failed"] + t["rerun_statuses"]["interrupted"] > 0 for t in trials),
            "temporary_files_left": sum(int(t["temporary_files_left"]) for t in trials),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {
        "command": " ".join(["python", "scripts/stress_batch_kill.py", *sys.argv[1:]]),
        "machine": f"{platform.node()}: {platform.platform()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "settings": {"trials": args.trials, "files": args.files, "grace_s": args.grace, "seed": args.seed,
                     "jobs": 2},
        "summary": summary,
        "trials": trials,
    }
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
