"""The ground floor: core/ imports no domain package above it (DESIGN.md, Layout).

Read from the source (every `import` and `from ... import`, at any depth, including
imports inside functions), so a lazy import that would hide the dependency at load time
is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dealflow

PACKAGE = Path(dealflow.__file__).parent
CORE = PACKAGE / "core"
# Every package of src/dealflow other than core: the ones core must not know about.
ABOVE_CORE = sorted(
    path.name
    for path in PACKAGE.iterdir()
    if (path / "__init__.py").exists() and path.name != "core"
)


def imported_modules(source: Path) -> set[str]:
    """The absolute module names a file imports (relative imports stay inside core)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_domain_packages_are_found():
    assert {"people", "accounts", "leads", "sales", "api", "web", "demo"} <= set(ABOVE_CORE)


def test_core_imports_no_package_above_it():
    offending = sorted(
        f"{source.relative_to(PACKAGE)} imports {name}"
        for source in CORE.rglob("*.py")
        for name in imported_modules(source)
        if name.split(".")[:2] in (["dealflow", package] for package in ABOVE_CORE)
    )
    assert offending == []
