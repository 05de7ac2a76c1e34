"""The public surface: one parameter model behind every entry point, declared
names, and imports that only run down the layers."""

from __future__ import annotations

import ast
import fnmatch
import inspect
from dataclasses import fields
from pathlib import Path

import pytest

import segshift
from segshift.params import Params, names, option_help

PACKAGE = Path(segshift.__file__).parent

#: The layers, lowest first. A module may import modules of its own layer or
#: of a lower one, never of a higher one, never the package root; and the
#: graph of imports (lazy ones included) has no cycle.
LAYERS = [
    ["errors", "_version", "_config", "_signals", "_interrupt", "params"],
    ["_*_kernels"],
    ["_loader", "_raster", "_render", "_meanshift", "_regions", "_hierarchy", "_resolution", "writers", "evaluate",
     "evaluate.*"],
    ["_pipeline", "_segment", "tiled", "_pointsets", "geo", "vectors"],
    ["_compile", "_dask_cluster", "_runner", "batch", "_benchmark", "report", "report.*"],
    ["_first_run", "cli", "cli.*", "__main__"],
]


def _layer(module: str) -> int:
    for rank, patterns in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return rank
    raise AssertionError(f"segshift.{module} is in no layer of tests/test_api.py: place it")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """segshift modules that ``module`` imports anywhere in its file ("" is the root)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{target}.{alias.name}" if target else alias.name
                out.add(candidate if candidate in known else target)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "segshift":
            out.add(node.module.partition(".")[2])
        elif isinstance(node, ast.Import):
            out.update(a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "segshift")
    return out - {module}


def test_imports_run_down_the_layers_and_never_to_the_root():
    modules = _modules()
    known = set(modules)
    graph = {m: _imports(m, p, known) for m, p in modules.items() if m}
    problems = []
    for module, targets in graph.items():
        for target in targets:
            if target == "" and module != "__main__":
                problems.append(f"segshift.{module} imports the package root")
            elif target and target in known and _layer(target) > _layer(module):
                problems.append(f"segshift.{module} (layer {_layer(module)}) imports segshift.{target} "
                                f"(layer {_layer(target)})")
    assert not problems, "\n".join(problems)
    # and no cycle, lazy imports included
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, nxt]))
            if nxt in graph and not state.get(nxt):
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [])


#: The public modules; every other module of the package is private (its name starts with "_").
PUBLIC = {"", "params", "errors", "evaluate", "report", "batch", "geo", "vectors", "writers", "tiled", "cli",
          "__main__"}


def test_private_modules_are_underscored():
    for module in _modules():
        parts = module.split(".")
        if module in PUBLIC or parts[0] in ("evaluate", "report"):
            continue
        assert parts[-1].startswith("_"), f"segshift.{module} is neither public (tests/test_api.py) nor underscored"


def test_every_public_module_declares_its_names():
    for module in ["segshift", "segshift.params", "segshift.errors", "segshift.evaluate", "segshift.report",
                   "segshift.batch", "segshift.geo", "segshift.vectors", "segshift.writers", "segshift.tiled",
                   "segshift.cli"]:
        mod = __import__(module, fromlist=["_"])
        assert hasattr(mod, "__all__"), module
        for name in mod.__all__:
            assert getattr(mod, name, None) is not None, f"{module}.{name}"


def _algorithm_keywords(func) -> list[str]:
    params = inspect.signature(func).parameters
    return [n for n in params if n in set(names())]


@pytest.mark.parametrize("func", ["segment", "run_batch"])
def test_entry_points_take_every_option_of_the_model(func):
    from segshift.batch import run_batch
    from segshift._segment import segment

    f = {"segment": segment, "run_batch": run_batch}[func]
    sig = inspect.signature(f)
    assert _algorithm_keywords(f) == list(names()), "options missing or out of the model's order"
    for field in fields(Params):
        p = sig.parameters[field.name]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert p.default == field.default, f"{func}({field.name}=...) defaults to {p.default!r}, " \
                                           f"the model to {field.default!r}"
    assert sig.parameters["params"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("command", ["segment", "batch", "evaluate"])
def test_command_line_options_are_the_models(command):
    from segshift.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[command]
    by_dest = {a.dest: a for a in sub._actions}
    for field in fields(Params):
        if command == "evaluate" and field.name == "n_regions":
            continue  # evaluate scores the automatic level or sweeps; it takes no level
        assert field.name in by_dest, f"segshift {command} has no option for {field.name}"
        action = by_dest[field.name]
        meta = option_help(field.name)
        for flag in meta["cli"]:
            assert flag in action.option_strings, f"{command}: {field.name} is not spelled {flag}"
        if meta["choices"]:
            assert list(action.choices) == list(meta["choices"]), field.name
        default = action.default[0] if isinstance(action.default, list) else action.default
        model = "none" if field.name == "compat" and field.default is None else field.default
        assert default == model, f"{command} {meta['cli'][-1]} defaults to {default!r}, the model to {model!r}"
        assert meta["help"].split("(")[0].strip() in action.help, field.name
    # and nothing the model lacks poses as an algorithm option
    group = next(g for g in sub._action_groups if g.title and g.title.startswith("segmentation parameters"))
    extra = {a.dest for a in group._group_actions} - set(names()) - {"max_pixels"}
    assert not extra, f"segshift {command} has algorithm options outside the model: {extra}"


def test_params_validate_normalise_and_show_what_runs():
    p = Params(compat="none", kernel="Gaussian", scale="FIXED", spatial_radius=None)
    assert (p.compat, p.kernel, p.scale, p.spatial_radius) == (None, "gaussian", "fixed", "auto")
    assert "range_radius=12.0" in repr(p) and "min_size=0.013" in repr(p)
    assert repr(Params()).count("range_radius=8.0") == 1
    # a default that depends on the scale stays a default through replace
    assert Params(scale="fixed").replace(scale="auto").range_radius_value == 8.0
    with pytest.raises(ValueError, match="unknown parameter 'radius'"):
        Params().replace(radius=3)
    with pytest.raises(ValueError, match="n_regions needs the hierarchy"):
        Params(scale="fixed", n_regions=3)
    with pytest.raises(ValueError, match="region_colour must be one of mean, seed"):
        Params(region_colour="first")
    assert dict(**Params(range_radius=9))["range_radius"] == 9.0


def test_every_subpackage_is_installed():
    # pip installs only the packages pyproject.toml lists: a new subpackage left out would
    # work from a checkout and be missing from an installed segshift
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("segshift",) + p.parent.relative_to(PACKAGE).parts)
             for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"pyproject.toml packages: add {sorted(found - listed)}"
    for name in listed - found:  # folders of data only (templates)
        assert (PACKAGE.parent / name.replace(".", "/")).is_dir(), f"pyproject.toml packages: drop {name}"
