"""Sphinx configuration of segshift's documentation.

Build (from the repository root; see docs/README.md)::

    pip install '.[docs]' && sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The documentation describes the checkout it sits in, installed or not.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# The gallery examples run in this process and their children: headless plots.
os.environ.setdefault("MPLBACKEND", "Agg")

import segshift  # noqa: E402

project = "segshift"
author = "the segshift developers"
copyright = "the segshift developers"  # noqa: A001 (Sphinx's name)
release = segshift.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "benchjson",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "examples", "examples-data", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json"]
# Commands and options are shown as typed: no curly quotes or dashes made of "--".
smartquotes = False
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header"]

# API reference: the public surface only (segshift.__all__ and the public subpackages).
autosummary_generate = True
templates_path = ["_templates"]
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The gallery: every example runs at build time and makes its own figures.
sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "capture_repr": (),
    "abort_on_example_error": True,
    "reset_modules_order": "both",
    "backreferences_dir": None,
    "doc_module": (),
    "expected_failing_examples": [],
    "min_reported_time": 0,
    "write_computation_times": False,
}

# Pages that changes in flight add to docs/; they join the benchmarks' toctree once present.
benchjson_optional_pages = ["geo-comparison"]

# The gallery's batch example writes its report here; it is copied beside the
# example's page at the end of the build (see _copy_report below).
REPORT_DIR = DOCS / "auto_examples" / "batch-report"
os.environ["SEGSHIFT_DOCS_REPORT_DIR"] = str(REPORT_DIR)

html_theme = "pydata_sphinx_theme"
html_title = f"segshift {release}"
html_static_path: list[str] = []  # no static files of our own
html_logo = None
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 8,
    # (the benchmarks pages drop this sidebar in their front matter: their tables are wide)
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # No request leaves the built site: it reads from file:// and offline.
    "icon_links": [],
    "use_edit_page_button": False,
}
html_sidebars = {"changelog": [], "index": []}
# The theme reads its light/dark default from here (empty, it logs an error on every page).
html_context = {"default_mode": "auto"}
# The search page fetches each hit's page for a summary, which browsers refuse on
# file://; without summaries the built site searches offline from the file system.
html_show_search_summary = False


def _copy_report(app, exception) -> None:
    """Put the batch example's HTML report (with its pictures) beside the example's page."""
    import shutil

    if exception is None and app.builder.format == "html" and REPORT_DIR.is_dir():
        shutil.copytree(REPORT_DIR, Path(app.outdir) / "auto_examples" / "batch-report", dirs_exist_ok=True)


def setup(app) -> None:
    app.connect("build-finished", _copy_report)
