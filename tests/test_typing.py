"""The public API's type hints are checked by mypy (the package ships py.typed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The modules of the public surface whose annotations users' type checkers read.
PUBLIC = ["segshift/__init__.py", "segshift/params.py", "segshift/_segment.py", "segshift/_pipeline.py", "segshift/errors.py",
          "segshift/_version.py", "segshift/batch.py", "segshift/evaluate", "segshift/report/__init__.py"]


def test_the_package_ships_py_typed():
    assert (ROOT / "segshift" / "py.typed").is_file()


def test_mypy_is_clean_on_the_public_api(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *PUBLIC, "--ignore-missing-imports", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
