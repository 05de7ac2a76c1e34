"""Mutation fuzz of segshift's two readers, at a larger scale than the test suite.

Mutated files of every format (the corpus and mutations of
tests/test_fuzz_readers.py: byte flips, deletions, insertions, truncation,
header fields rewritten to 0, 1 or huge values) go through the whole-image
path (``segment()``) and the tiled path (TIFF variants). Each case runs in a
worker process with a capped address space; a case that does not answer
within ``--timeout`` seconds is a timeout (the worker is killed and
restarted). Outcomes are counted per path and format: a result, a segshift
error (by class), another exception (with its traceback), a timeout, a
message of more than one line, an output file left behind by a failed run,
a raw warning, and cases during which something was written to stderr (C
libraries print there directly).

Writes docs/benchmarks/fuzz_readers.json (command, machine, date, counts).

    python scripts/fuzz_readers.py --cases 1000 --seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import selectors
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz_readers as corpus  # the corpus and mutations live beside the test

#: Tracebacks kept per path and format for exceptions that are not segshift's.
EXAMPLES = 3


# ---------------------------------------------------------------- the worker


def worker() -> None:
    """Read ``path_kind file labels`` lines, run each case, answer one JSON line each."""
    import warnings

    from segshift.errors import SegshiftError

    runs = {"whole": corpus.whole_run, "tiled": corpus.tiled_run}
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    with corpus.capped_address_space():
        for line in sys.stdin:
            kind, path, labels = line.rstrip("\n").split("\t")
            labels_path = Path(labels) if labels else None
            before = os.fstat(2).st_size
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if labels_path is None:
                        runs[kind](path)
                    else:
                        runs[kind](path, labels_path)
                    answer = {"outcome": "ok"}
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # noqa: BLE001 - every outcome is counted
                    if isinstance(exc, SegshiftError):
                        answer = {"outcome": "segshift", "class": type(exc).__name__,
                                  "one_line": "\n" not in str(exc) and bool(str(exc))}
                    else:
                        answer = {"outcome": "other", "class": type(exc).__name__,
                                  "traceback": "".join(traceback.format_exception(exc))[-3000:]}
                    if labels_path is not None:
                        folder = labels_path.parent
                        answer["leftovers"] = sorted(p.name for p in folder.iterdir())
            answer["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught][:3]
            answer["stderr"] = os.fstat(2).st_size - before
            if labels_path is not None and labels_path.exists():
                labels_path.unlink()
            out.write(json.dumps(answer) + "\n")
            out.flush()


class Worker:
    """A worker process; restarted after a timeout."""

    def __init__(self, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - open for the worker's life, closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def ask(self, request: str, timeout: float) -> dict | None:
        """The answer to one case, or None after ``timeout`` seconds (the worker is then killed)."""
        if self.proc is None:
            self.start()
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        if self.selector.select(timeout):
            line = self.proc.stdout.readline()
            if line:
                return json.loads(line)
            self.stop()  # the worker died (a crash of the interpreter)
            return {"outcome": "crash", "class": "worker exited", "warnings": [], "stderr": 0}
        self.stop()
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.selector.close()
            self.stderr.close()
            self.proc = None


# ---------------------------------------------------------------- the driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per format and path (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mutations (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a case may take (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "fuzz_readers.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return

    start = time.perf_counter()
    plan = [("whole", fmt) for fmt in sorted(corpus.FORMATS)] + [("tiled", fmt) for fmt in sorted(corpus.FORMATS)]
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-readers-") as tmp:
        tmp = Path(tmp)
        worker_ = Worker(tmp / "stderr.log")
        outputs = tmp / "out"
        outputs.mkdir()
        try:
            for number, (kind, fmt) in enumerate(plan):
                counts: Counter = Counter()
                errors: Counter = Counter()
                sites: Counter = Counter()
                examples: list = []
                seed = args.seed * 1000 + number
                path = tmp / f"case{corpus.FORMATS[fmt][1]}"
                labels = outputs / "labels.tif" if kind == "tiled" else None
                t0 = time.perf_counter()
                for index, (mutation, data) in enumerate(corpus.cases(fmt, args.cases, seed)):
                    path.write_bytes(data)
                    answer = worker_.ask(f"{kind}\t{path}\t{labels or ''}", args.timeout)
                    if answer is None:
                        counts["timeout"] += 1
                        examples.append({"case": index, "mutation": mutation, "timeout": args.timeout})
                        continue
                    counts[answer["outcome"]] += 1
                    if answer["outcome"] in ("other", "crash"):
                        sites[_site(answer)] += 1
                    if answer["outcome"] == "segshift":
                        errors[answer["class"]] += 1
                        counts["multi_line_message"] += not answer["one_line"]
                    elif answer["outcome"] in ("other", "crash") and len(examples) < EXAMPLES:
                        examples.append({"case": index, "mutation": mutation, "class": answer["class"],
                                         "traceback": answer.get("traceback", "")})
                    counts["output_left_behind"] += bool(answer.get("leftovers"))
                    counts["raw_warnings"] += bool(answer["warnings"])
                    counts["wrote_to_stderr"] += answer["stderr"] > 0
                    for leftover in outputs.iterdir():  # keep cases independent
                        leftover.unlink()
                results.setdefault(kind, {})[fmt] = {
                    "cases": args.cases, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
                    "counts": {k: v for k, v in sorted(counts.items())}, "segshift_errors": dict(sorted(errors.items())),
                    "other_by_site": dict(sites.most_common()), "examples": examples,
                }
                print(f"{kind:5} {fmt:22} {dict(counts)} {dict(errors)}", flush=True)
        finally:
            worker_.stop()

    totals: Counter = Counter()
    for by_format in results.values():
        for entry in by_format.values():
            totals["cases"] += entry["cases"]
            totals.update(entry["counts"])
    report = {
        "command": "python scripts/fuzz_readers.py " + " ".join(sys.argv[1:]),
        "machine": {"node": platform.node(), "processor": platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "system": platform.platform(),
                    "packages": _versions()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start, 1),
        "case_timeout_seconds": args.timeout,
        "what": "mutated files (flip, delete, insert, truncate, header field rewrite) through segment() "
                "('whole') and the tiled path ('tiled'); every case must end in 'ok' or 'segshift' "
                "(a SegshiftError); 'other', 'crash' and 'timeout' are failures",
        "totals": dict(sorted(totals.items())),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["totals"]))
    print(f"wrote {args.out}")


def _site(answer: dict) -> str:
    """``Class in module.function`` of the innermost segshift frame of a failure's traceback."""
    frames = [line.strip() for line in answer.get("traceback", "").splitlines() if line.strip().startswith("File ")]
    ours = [f for f in frames if "/segshift/" in f] or frames
    where = ""
    if ours:
        name = ours[-1].split('"')[1].rsplit("/", 1)[-1]
        where = f" in {name}:{ours[-1].rsplit(' in ', 1)[-1]}"
    return f"{answer.get('class', '?')}{where}"


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("numpy", "pillow", "tifffile", "opencv-python-headless", "numba"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


if __name__ == "__main__":
    main()
