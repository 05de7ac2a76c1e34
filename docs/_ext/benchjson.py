"""Render the JSON files that ``scripts/`` write into ``docs/benchmarks/`` as pages' tables.

No figure on a benchmarks page is typed by hand: a page names a file, and at
build time this extension prints the command that wrote it, the machine, the
date, the notes and every table in it::

    ```{benchmark-json} bench_speed.json
    :optional:
    ```

``:optional:`` says that the file may not be there yet (a script whose run is
still to come, or written by a change that has not landed): the page then
says that its figures await a run instead of failing the build.
``benchmark-json-others`` renders every JSON file in ``docs/benchmarks/`` that
no page names, so a new script's figures appear as soon as its file is added.

The files written through ``scripts/_record.py`` hold ``title``, ``command``,
``machine``, ``date``, ``notes`` and ``tables`` (``caption``, ``columns``,
``rows``). Other files are rendered generically: scalars as a field list,
lists of objects as tables, nested objects as nested field lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# A generic list longer than this shows its first rows and says how many the file holds.
MAX_ROWS = 100
MAX_CELL_VALUES = 10
MAX_CELL_CHARS = 200
META = ("title", "command", "machine", "date", "notes", "tables", "status")
NAMED = re.compile(r"benchmark-json\}?\s+([\w.\-]+\.json)")


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_CELL_VALUES:  # a cell shows a list's first values and its length
            return ", ".join(_text(v) for v in value[:MAX_CELL_VALUES]) + f", ... ({len(value)} values)"
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph(text, text)


def _table(columns: list[str], rows: list[list[Any]], caption: str | None = None) -> nodes.table:
    table = nodes.table(classes=["benchmark-table"])
    if caption:
        table += nodes.title(caption, caption)
    group = nodes.tgroup(cols=len(columns))
    table += group
    for _ in columns:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for name in columns:
        row += nodes.entry("", _paragraph(str(name)))
    head += row
    body = nodes.tbody()
    group += body
    for values in rows:
        row = nodes.row()
        cells = list(values) + [""] * (len(columns) - len(values))
        for value in cells[: len(columns)]:
            text = _text(value)
            if len(text) > MAX_CELL_CHARS:  # long records (tracebacks, per-run details) stay in the file
                text = text[:MAX_CELL_CHARS].rstrip() + " ... (the rest is in the file)"
            row += nodes.entry("", _paragraph(text))
        body += row
    return table


def _fields(items: dict[str, Any]) -> list[nodes.Node]:
    """Scalars as a field list; lists of objects as tables; nested objects recursively."""
    out: list[nodes.Node] = []
    field_list = nodes.field_list()
    later: list[nodes.Node] = []
    for key, value in items.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns: list[str] = []
            for v in value:
                columns += [k for k in v if k not in columns]
            shown = value[:MAX_ROWS]
            caption = str(key) if len(value) <= MAX_ROWS else f"{key} (the first {MAX_ROWS} of {len(value)} rows)"
            later.append(_table(columns, [[v.get(c, "") for c in columns] for v in shown], caption=caption))
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            columns = []
            for v in value.values():
                columns += [k for k in v if k not in columns]
            if len(columns) > len(value):  # few objects of many fields: one column per object reads better
                rows = [[c] + [v.get(c, "") for v in value.values()] for c in columns]
                later.append(_table([""] + list(value), rows, caption=str(key)))
            else:
                rows = [[name] + [v.get(c, "") for c in columns] for name, v in value.items()]
                later.append(_table([""] + columns, rows, caption=str(key)))
        elif isinstance(value, list) and len(value) > MAX_ROWS:
            field = nodes.field()
            field += nodes.field_name(str(key), str(key))
            text = f"{_text(value[:MAX_ROWS])}, ... ({len(value)} values in the file)"
            field += nodes.field_body("", _paragraph(text))
            field_list += field
        elif isinstance(value, dict):
            later.append(nodes.rubric(str(key), str(key)))
            later.extend(_fields(value))
        else:
            field = nodes.field()
            field += nodes.field_name(str(key), str(key))
            field += nodes.field_body("", _paragraph(_text(value)))
            field_list += field
    if len(field_list):
        out.append(field_list)
    return out + later


def records(data: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """A file that holds several runs, each an object with its own command: those runs by name."""
    if "command" in data or not data:
        return None
    if all(isinstance(v, dict) and "command" in v for v in data.values()):
        return data
    return None


def render(data: dict[str, Any], source: str) -> list[nodes.Node]:
    """The nodes of one benchmark file."""
    runs = records(data)
    if runs is not None:
        out: list[nodes.Node] = []
        for name, run in runs.items():
            out.append(nodes.rubric(name, name))
            out.extend(render(run, source))
        return out
    out = []
    meta = nodes.field_list(classes=["benchmark-meta"])
    for key, label in (("date", "Date"), ("machine", "Machine")):
        if key in data:
            field = nodes.field()
            field += nodes.field_name(label, label)
            field += nodes.field_body("", _paragraph(_text(data[key])))
            meta += field
    field = nodes.field()
    field += nodes.field_name("Figures", "Figures")
    field += nodes.field_body("", _paragraph(f"docs/benchmarks/{source}"))
    meta += field
    if data.get("title"):
        out.append(nodes.rubric(data["title"], data["title"]))
    if "command" in data:
        out.append(_paragraph("Command:"))
        out.append(nodes.literal_block(_text(data["command"]), _text(data["command"]), language="sh"))
    out.append(meta)
    for note in data.get("notes") or []:
        out.append(_paragraph(note))
    for table in data.get("tables") or []:
        out.append(_table(table["columns"], table["rows"], table.get("caption")))
    rest = {k: v for k, v in data.items() if k not in META}
    if rest:
        out.extend(_fields(rest))
    return out


def _awaiting(name: str, command: str | None) -> list[nodes.Node]:
    text = f"The figures of docs/benchmarks/{name} await a run" + (":" if command else ".")
    note = nodes.admonition(classes=["note"])
    note += nodes.title("Awaiting a run", "Awaiting a run")
    note += _paragraph(text)
    if command:
        note += nodes.literal_block(command, command, language="sh")
    return [note]


class BenchmarkJson(SphinxDirective):
    """``benchmark-json NAME.json``: the figures of one file of docs/benchmarks/."""

    required_arguments = 1
    has_content = False
    option_spec = {"optional": directives.flag, "command": directives.unchanged,
                   "tables": directives.positive_int_list}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        path = Path(self.env.srcdir) / "benchmarks" / name
        self.env.note_dependency(str(path))
        if not path.exists():
            if "optional" in self.options:
                return _awaiting(name, self.options.get("command"))
            raise self.error(f"docs/benchmarks/{name} is missing (add :optional: if its run is still to come)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise self.error(f"docs/benchmarks/{name} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            data = {"figures": data}
        if "tables" in self.options and isinstance(data.get("tables"), list):
            data = dict(data, tables=[data["tables"][k - 1] for k in self.options["tables"] if k <= len(data["tables"])])
        return render(data, name)


def named_files(srcdir: Path) -> set[str]:
    """The benchmark files that some page names."""
    named: set[str] = set()
    for page in list(srcdir.rglob("*.md")) + list(srcdir.rglob("*.rst")):
        if "_build" in page.parts:
            continue
        named.update(NAMED.findall(page.read_text(errors="replace")))
    return named


class BenchmarkJsonOthers(SphinxDirective):
    """``benchmark-json-others``: every file of docs/benchmarks/ that no page names."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        folder = Path(self.env.srcdir) / "benchmarks"
        named = named_files(Path(self.env.srcdir))
        out: list[nodes.Node] = []
        for path in sorted(folder.glob("*.json")):
            self.env.note_dependency(str(path))
            if path.name in named:
                continue
            section = nodes.section(ids=[nodes.make_id(f"benchmark-{path.stem}")])
            section += nodes.title(path.stem, path.stem)
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise self.error(f"docs/benchmarks/{path.name} is not JSON: {exc}") from None
            section.extend(render(data if isinstance(data, dict) else {"figures": data}, path.name))
            out.append(section)
        if not out:
            out.append(_paragraph("Every file in docs/benchmarks/ is shown on one of the pages above."))
        return out


def _always_reread(app: Sphinx, env, added, changed, removed) -> list[str]:
    # A page with benchmark-json-others depends on files that may appear after its last build.
    return [doc for doc in env.found_docs if doc.startswith("benchmarks/")]


def _optional_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    # Pages that other changes add (e.g. docs/geo-comparison.md) join a toctree once they exist.
    marker = "%optional-pages%"
    if marker not in source[0]:
        return
    srcdir = Path(app.srcdir)
    here = (srcdir / docname).parent
    lines = []
    for page in app.config.benchjson_optional_pages:
        if (srcdir / f"{page}.md").exists() or (srcdir / f"{page}.rst").exists():
            lines.append(Path(page).as_posix() if here == srcdir else "/" + page)
    source[0] = source[0].replace(marker, "\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("benchjson_optional_pages", [], "env")
    app.connect("source-read", _optional_pages)
    app.add_directive("benchmark-json", BenchmarkJson)
    app.add_directive("benchmark-json-others", BenchmarkJsonOthers)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
