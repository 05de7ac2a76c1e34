"""scikit-learn's own MeanShift test file, run against segshift.

The installed ``sklearn/cluster/tests/test_mean_shift.py`` is read, its
imports of ``MeanShift``, ``mean_shift`` and ``estimate_bandwidth`` are
rewritten to segshift's (nothing else changes: ``get_bin_seeds``, a helper
segshift does not have, stays scikit-learn's), and the rewritten file runs
under pytest in a subprocess with scikit-learn's own fixtures
(``-p sklearn.conftest``: ``global_dtype`` with float32 turned on,
``global_random_seed``). Every test must pass except those listed in
:data:`EXPECTED_FAILURES`, which must fail (so the list stays true).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import sklearn

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(sklearn.__file__).resolve().parent / "cluster" / "tests" / "test_mean_shift.py"
SEGSHIFT_NAMES = {"MeanShift", "mean_shift", "estimate_bandwidth"}

#: The tests of scikit-learn's file that fail with segshift, each with its
#: reason (a parameter segshift documents as absent); the only list of them.
#: Every other test must pass. None with scikit-learn 1.9.1.
EXPECTED_FAILURES: dict[str, str] = {}


def rewrite_imports(source: str) -> str:
    """``source`` with its imports of MeanShift, mean_shift and estimate_bandwidth from
    sklearn.cluster taken from segshift instead; the other lines unchanged."""
    lines = source.splitlines(keepends=True)
    moved: set[str] = set()
    edits = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ImportFrom) and node.module
                and node.module.split(".")[:2] == ["sklearn", "cluster"]):
            continue
        names = [alias for alias in node.names if alias.name in SEGSHIFT_NAMES]
        if not names:
            continue
        kept = [alias for alias in node.names if alias.name not in SEGSHIFT_NAMES]
        moved.update(alias.name for alias in names)
        indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)

        def spell(aliases):
            return ", ".join(a.name if a.asname is None else f"{a.name} as {a.asname}" for a in aliases)

        text = f"{indent}from segshift import {spell(names)}\n"
        if kept:
            text = f"{indent}from {node.module} import {spell(kept)}\n" + text
        edits.append((node.lineno - 1, node.end_lineno, text))
    for start, end, text in sorted(edits, reverse=True):
        lines[start:end] = [text]
    rewritten = "".join(lines)
    assert moved == SEGSHIFT_NAMES, f"imports found for {sorted(moved)} only"
    # No other way in to scikit-learn's versions (sklearn.cluster.MeanShift, the private module).
    assert not re.search(r"sklearn\.cluster\.(MeanShift|mean_shift|estimate_bandwidth|_mean_shift)", rewritten)
    return rewritten


def test_rewrite_imports_only_swaps_the_three_names():
    source = (
        "import numpy as np\n"
        "from sklearn.cluster import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift\n"
        "def test_x():\n"
        "    from sklearn.cluster import mean_shift as ms\n"
    )
    assert rewrite_imports(source) == (
        "import numpy as np\n"
        "from sklearn.cluster import get_bin_seeds\n"
        "from segshift import MeanShift, estimate_bandwidth, mean_shift\n"
        "def test_x():\n"
        "    from segshift import mean_shift as ms\n"
    )


def run_suite(tmp_path: Path) -> dict[str, list[tuple[str, str]]]:
    """Run the rewritten file; the outcomes ("passed", "failed", "skipped") of each test
    function's cases, by function name."""
    assert SOURCE.is_file(), (
        f"scikit-learn {sklearn.__version__} is installed without its tests ({SOURCE} is missing)"
    )
    target = tmp_path / "test_mean_shift_segshift.py"
    target.write_text(
        f"# scikit-learn {sklearn.__version__}'s {SOURCE.name}, its imports rewritten to segshift's.\n"
        + rewrite_imports(SOURCE.read_text())
    )
    report = tmp_path / "report.xml"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               SKLEARN_RUN_FLOAT32_TESTS="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sklearn.conftest", "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(tmp_path), "-q", f"--junitxml={report}", str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert report.is_file(), done.stdout + done.stderr
    outcomes: dict[str, list[tuple[str, str]]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        name = case.get("name")
        outcomes.setdefault(name.split("[")[0], []).append((name, outcome))
    return outcomes


def test_sklearn_mean_shift_tests_pass(tmp_path):
    outcomes = run_suite(tmp_path)
    defined = set(re.findall(r"^def (test_\w+)", SOURCE.read_text(), flags=re.M))
    assert set(outcomes) == defined, "every test of the file ran"
    assert set(EXPECTED_FAILURES) <= defined, "the expected failures name tests of the file"
    table = "\n".join(f"{outcome:8} {name}" for cases in outcomes.values() for name, outcome in cases)
    print(f"scikit-learn {sklearn.__version__}'s test_mean_shift.py against segshift:\n{table}")
    wrong = [
        (name, outcome)
        for function, cases in outcomes.items()
        for name, outcome in cases
        if outcome != ("failed" if function in EXPECTED_FAILURES else "passed")
    ]
    assert not wrong, f"unexpected outcomes {wrong}; all outcomes:\n{table}"

