"""Write a script's figures to ``docs/benchmarks/NAME.json`` for the documentation.

Every benchmarks page of the documentation is rendered from these files at
build time (``docs/_ext/benchjson.py``), so each figure it shows traces to
the command that produced it, on which machine and when::

    from _record import record
    record("count_shifts", "Shifts per pixel", tables=[{"columns": [...], "rows": [...]}])

The file holds ``command`` (the script and its arguments as typed, from the
repository root), ``machine`` (CPU, cores, load average at the end of the
run, Python and library versions), ``date`` (UTC, ISO 8601), the ``title``,
optional ``notes`` (sentences the page prints under the figures) and the
``tables`` (each a ``caption``, its ``columns`` and its ``rows``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # a library the script does not use may be absent
        return "absent"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, str]:
    """The machine and software a figure was measured with."""
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "cpu": f"{_cpu_name()}, {os.cpu_count()} logical cores ({platform.machine()}, {platform.system()})",
        "load average (1, 5, 15 min) at the end": load,
        "software": f"Python {platform.python_version()}, numpy {_version('numpy')}, numba {_version('numba')}, "
                    f"segshift commit {_commit()}",
    }


def command() -> str:
    """The command line that ran this script, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *(_placeholder(arg) for arg in sys.argv[1:])])


def _placeholder(arg: str) -> str:
    """A data folder outside the repository by the name the scripts' docstrings give it."""
    path = Path(arg)
    for folder in [path, *path.parents]:
        if folder.is_dir() and (folder / "images").is_dir() and (folder / "groundTruth").is_dir():
            rest = path.relative_to(folder).as_posix()
            return "BSDS500_DIR" if rest == "." else f"BSDS500_DIR/{rest}"
    if path.is_dir() and path.is_absolute() and ROOT not in path.resolve().parents:
        return f"{path.name.upper()}_DIR"
    return arg


def record(name: str, title: str, *, tables: list[dict], notes: list[str] | None = None,
           extra: dict | None = None) -> Path:
    """Write ``docs/benchmarks/NAME.json`` (atomically) and return its path."""
    data = {
        "title": title,
        "command": command(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "notes": list(notes or []),
        "tables": tables,
    }
    if extra:
        data.update(extra)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
    print(f"figures written to {path.relative_to(ROOT)}", file=sys.stderr)
    return path
