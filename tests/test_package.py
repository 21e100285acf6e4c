import ast
import subprocess
import sys
from pathlib import Path

import napari_hacbsr


def test_import_is_light():
    """napari imports plugin packages at start-up: no torch, open_clip or Qt at import time."""
    code = (
        "import sys, napari_hacbsr, napari_hacbsr.core.config; "
        "heavy = [m for m in ('torch', 'open_clip', 'qtpy', 'PyQt6', 'napari') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_public_api():
    from napari_hacbsr.core.api import super_resolve
    from napari_hacbsr.core.engine import iterate

    assert napari_hacbsr.super_resolve is super_resolve
    assert napari_hacbsr.iterate is iterate
    assert napari_hacbsr.HACBSRConfig().scale == 2
    try:
        napari_hacbsr.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")


def test_core_does_not_import_napari_or_qt():
    code = (
        "import sys; import napari_hacbsr.core.engine, napari_hacbsr.core.api, napari_hacbsr.core.metrics, "
        "napari_hacbsr.core.sample, napari_hacbsr.cli; "
        "bad = [m for m in ('napari', 'qtpy', 'PyQt6', 'PySide6', 'magicgui') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------- the import graph, from the source
# Module-level and deferred (in-function) imports both count; `if TYPE_CHECKING:` blocks do not (they never run).
# An import of a module's own parent package is not an edge: importing the module runs the parent first anyway.
SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "napari_hacbsr"
QT_OR_NAPARI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt")


def _module_files(src: Path, package: str) -> dict[str, Path]:
    modules = {}
    for path in (src / package).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


class _Imports(ast.NodeVisitor):
    """Every absolute module name imported by one module (relative imports resolved)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module or ""
        self.names.add(module)
        self.names.update(f"{module}.{alias.name}" for alias in node.names)  # (a submodule, when it is one)


def _import_graph(src: Path, package: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between the package's modules, every name each module imports)."""
    modules = _module_files(src, package)
    edges: dict[str, set[str]] = {}
    imported: dict[str, set[str]] = {}
    for module, path in modules.items():
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        imported[module] = visitor.names
        targets = set()
        for name in visitor.names:
            while name and name not in modules:  # the module itself or its nearest package in the tree
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                targets.add(name)
        edges[module] = targets
    return edges, imported


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_import_checker_finds_deferred_circles_and_skips_type_checking(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n")  # deferred: still a circle
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    (pkg / "sub" / "d.py").write_text("from .. import c\nimport napari\n")
    edges, imported = _import_graph(tmp_path, "pkg")
    assert _circles(edges) == [["pkg.a", "pkg.sub.b"]]
    assert edges["pkg.c"] == set() and edges["pkg.sub.d"] == {"pkg.c"}
    assert "napari" in imported["pkg.sub.d"]


def test_no_import_circles():
    edges, _ = _import_graph(SRC, PACKAGE)
    assert len(edges) > 40  # (the walker found the package)
    assert _circles(edges) == []


def _upward_imports(imported: dict[str, set[str]]) -> list[str]:
    """core/ imports nothing of the package outside core, nor napari/Qt; mission/ and batching/ (I/O and
    the batch runner) import neither napari nor Qt nor the napari subpackage."""
    bad = []
    for module, names in sorted(imported.items()):
        room = module.split(".")[1] if "." in module else ""
        for name in sorted(names):
            top = name.split(".")[0]
            if room == "core" and (top == PACKAGE and not name.startswith(f"{PACKAGE}.core") or top in QT_OR_NAPARI):
                bad.append(f"{module} imports {name}")
            if room in ("mission", "batching") and (
                top in QT_OR_NAPARI or name == f"{PACKAGE}.napari" or name.startswith(f"{PACKAGE}.napari.")
            ):
                bad.append(f"{module} imports {name}")
    return bad


def test_the_upward_check_names_each_offence():
    imported = {
        f"{PACKAGE}.core.engine": {f"{PACKAGE}.core.config", f"{PACKAGE}.files", "numpy"},
        f"{PACKAGE}.core.api": {"qtpy.QtCore"},
        f"{PACKAGE}.mission.writers": {f"{PACKAGE}.napari.placement", f"{PACKAGE}.files"},
        f"{PACKAGE}.batching.runner": {"napari", f"{PACKAGE}.core.api"},
        f"{PACKAGE}.napari.widget": {"napari", f"{PACKAGE}.cli"},
    }
    assert _upward_imports(imported) == [
        f"{PACKAGE}.batching.runner imports napari",
        f"{PACKAGE}.core.api imports qtpy.QtCore",
        f"{PACKAGE}.core.engine imports {PACKAGE}.files",
        f"{PACKAGE}.mission.writers imports {PACKAGE}.napari.placement",
    ]


def test_no_upward_imports():
    _, imported = _import_graph(SRC, PACKAGE)
    assert _upward_imports(imported) == []
