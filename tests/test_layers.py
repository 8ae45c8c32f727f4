"""The package's layers: each private subpackage imports only from the layers below it.

A static check over the package's own imports (every `import`, top-level, in functions and under
`TYPE_CHECKING`), so the layering in docs/architecture.md cannot rot silently.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import analytics_async

PACKAGE = pathlib.Path(analytics_async.__file__).parent

LAYERS = {
    "errors": 0, "_version": 0,
    "_message": 1, "_core": 2, "_delivery": 3, "_lifecycle": 4, "_plans": 4, "_threads": 5, "_cli": 6,
}  # fmt: skip
"""Each unit of the package and its height: a unit imports only from units lower than itself (and
from its own modules). Every other top-level module is public and sits above all of them."""
PUBLIC = 7


def unit_of(parts: tuple[str, ...]) -> str:
    """The unit a module belongs to, from its dotted path inside the package ('' for the package)."""
    return parts[0] if parts else "__init__"


def height(unit: str) -> int:
    """How high `unit` sits: its layer, or above every layer for a public module."""
    return LAYERS.get(unit, PUBLIC)


def imported_units(path: pathlib.Path, root: pathlib.Path) -> list[tuple[int, str]]:
    """(line, unit) of every import of the package's own modules that `path` makes."""
    parts = path.relative_to(root).with_suffix("").parts
    package = parts[:-1]  # the package the module is in; for an __init__, the package it defines
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = (*base, *(node.module.split(".") if node.module else ()))
            if target:
                found.append((node.lineno, target[0]))
            else:  # `from . import x` at the top of the package: x is the unit
                found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(root.name):
            target = tuple(node.module.split(".")[1:]) if node.module else ()
            units = [target[0]] if target else [alias.name for alias in node.names]
            found.extend((node.lineno, unit) for unit in units)
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
            found.extend((node.lineno, unit_of(tuple(name[1:]))) for name in names if name[0] == root.name)
    return found


def violations(root: pathlib.Path) -> list[str]:
    """Every import in the package at `root` that reaches up (or sideways) to another unit."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        unit = unit_of(parts)
        for line, target in imported_units(path, root):
            if target == unit or height(unit) == PUBLIC:  # public modules may import anything
                continue
            if height(target) >= height(unit):
                problems.append(f"{path.relative_to(root)}:{line}: {unit} imports {target}")
    return problems


def test_every_subpackage_imports_only_lower_layers() -> None:
    """No module of a layer imports a higher layer, a sibling layer or a public module."""
    assert violations(PACKAGE) == []


def test_every_private_unit_has_a_layer() -> None:
    """A new subpackage or private top-level module must be given its place in the layers."""
    units = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    units |= {p.stem for p in PACKAGE.glob("_*.py") if p.stem not in {"__init__", "__main__"}}
    assert units == set(LAYERS) - {"errors"}


@pytest.mark.parametrize("unit", sorted(u for u in LAYERS if (PACKAGE / u).is_dir()))
def test_each_layer_says_what_it_owns_and_may_import(unit: str) -> None:
    """Each subpackage's docstring names what it owns and what it may import."""
    doc = ast.get_docstring(ast.parse((PACKAGE / unit / "__init__.py").read_text()))
    assert doc is not None
    assert "owns" in doc.lower()
    assert "may import" in doc.lower() or "imports nothing" in doc.lower()


def test_the_check_finds_an_import_that_reaches_up(tmp_path: pathlib.Path) -> None:
    """Planted imports that reach up (delivery to the lifecycle, core to a public module) are found."""
    root = tmp_path / "analytics_async"
    for unit in ("_delivery", "_lifecycle", "_core"):
        (root / unit).mkdir(parents=True)
        (root / unit / "__init__.py").write_text("")
    (root / "__init__.py").write_text("from ._lifecycle.client import Analytics\n")
    (root / "testing.py").write_text("from ._delivery import pipeline\n")
    (root / "_lifecycle" / "client.py").write_text("from .._delivery.pipeline import Pipeline\n")
    (root / "_delivery" / "pipeline.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .._lifecycle.client import Analytics\n"
    )
    (root / "_core" / "settings.py").write_text(
        "def f():\n    from analytics_async import testing\n    import analytics_async._delivery.pipeline\n"
    )
    assert violations(root) == [
        "_core/settings.py:2: _core imports testing",
        "_core/settings.py:3: _core imports _delivery",
        "_delivery/pipeline.py:3: _delivery imports _lifecycle",
    ]
