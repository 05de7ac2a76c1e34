"""HTML of the reports: Jinja2 templates (package data) with autoescaping, and safe names and links."""

from __future__ import annotations

import functools
import os
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from ..errors import ParameterError


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """The Jinja2 environment of the report templates (autoescape on, undefined names are errors)."""
    try:
        import jinja2
    except ImportError:  # pragma: no cover - Jinja2 is a dependency
        raise ParameterError("the HTML reports need Jinja2: pip install jinja2") from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segshift.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["url"] = url
    env.filters["text"] = text
    env.filters["num"] = number
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the report templates.

    Every page gets ``version``, ``built`` (the time) and ``nonce``: the one
    script a page may run carries it (its Content-Security-Policy allows no
    other script, so text that got into the page could not run even if it
    escaped the escaping).
    """
    from .._version import __version__

    context.setdefault("version", __version__)
    context.setdefault("built", time.strftime("%Y-%m-%d %H:%M"))
    context.setdefault("nonce", secrets.token_urlsafe(16))
    return environment().get_template(template).render(**context)


def text(name: Any) -> str:
    """A file name for display: names that are not UTF-8 (held as surrogates) get U+FFFD."""
    if not isinstance(name, str):
        return "" if name is None else str(name)
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def url(path: Any) -> str:
    """A relative path as a URL path: every byte but ``/`` and the unreserved characters percent-encoded.

    Examples
    --------
    >>> url("sub/<img src=x>.png")
    'sub/%3Cimg%20src%3Dx%3E.png'
    >>> url("a#1?.png")
    'a%231%3F.png'
    """
    raw = os.fspath(path)
    if isinstance(raw, str):
        raw = raw.replace(os.sep, "/") if os.sep != "/" else raw
        data = raw.encode("utf-8", "surrogateescape")
    else:
        data = raw
    return quote(data, safe="/")


def relative_url(target: Path, start: Path) -> str | None:
    """A relative URL from folder ``start`` to file ``target`` (None when there is none, e.g. another drive)."""
    try:
        rel = os.path.relpath(os.path.abspath(target), os.path.abspath(start))
    except ValueError:
        return None
    return url(PurePosixPath(*Path(rel).parts))


def folder_url(folder: Path, start: Path) -> str | None:
    """The relative URL of folder ``folder`` seen from folder ``start``, ending in ``/`` (``""`` when the same)."""
    try:
        rel = os.path.relpath(os.path.abspath(folder), os.path.abspath(start))
    except ValueError:
        return None
    return "" if rel == "." else url(PurePosixPath(*Path(rel).parts)) + "/"


def number(value: Any, digits: int = 3) -> str:
    """A score for display: ``digits`` decimals, or an en dash when missing."""
    if value is None:
        return "\u2013"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "\u2013"
