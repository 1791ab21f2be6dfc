"""The rooms of the integration: what each part may import (docs/architecture.md).

* The engines (``<job>/engine``) and the shared line (``line.py``) import
  nothing from Home Assistant, however deep: checked by importing each in a
  fresh interpreter.
* An engine imports nothing of the integration but itself and the line.
* A job never imports another job; the shared modules never import a job;
  only the routing modules (``__init__``, ``jobs``, ``config_flow``, the
  platform modules, ``diagnostics``, ``repairs``) know the jobs.
"""

from __future__ import annotations

import ast
from pathlib import Path
import subprocess
import sys

import pytest

PACKAGE = Path(__file__).parents[1] / "custom_components" / "smartcity_ddc"
JOBS = ("shelter", "cards", "meters")
ROUTERS = {
    "__init__",
    "jobs",
    "config_flow",
    "diagnostics",
    "repairs",
    "binary_sensor",
    "calendar",
    "climate",
    "fan",
    "sensor",
    "switch",
    "time",
}


def _module(path: Path) -> tuple[str, ...]:
    """Return a file's module path inside the package, e.g. ('shelter', 'engine', 'client')."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> set[tuple[str, ...]]:
    """Return the package-internal modules a file imports (relative imports resolved)."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            target = (*base, *(node.module.split(".") if node.module else ()))
            if node.module is None:
                found.update((*target, alias.name) for alias in node.names)
            else:
                found.add(target)
        elif node.module and node.module.startswith("custom_components.smartcity_ddc"):
            found.add(tuple(node.module.split(".")[2:]))
    return found


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_job_has_its_rooms() -> None:
    for job in JOBS:
        rooms = {path.stem for path in (PACKAGE / job).glob("*.py")}
        assert {"setup", "coordinator", "flow", "errors", "diagnostics"} <= rooms, job
        assert (PACKAGE / job / "engine" / "__init__.py").exists(), job


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_stay_in_their_room(path: Path) -> None:
    here = _module(path)
    imported = _imports(path)
    if here[:1] and here[0] in JOBS:
        job = here[0]
        assert not {target[0] for target in imported if target} & (set(JOBS) - {job}), (
            f"{path} imports another job"
        )
        if here[1:2] == ("engine",):
            for target in imported:
                assert target[:2] == (job, "engine") or target == ("line",), (
                    f"the {job} engine imports {'.'.join(target)}"
                )
    elif here == ("line",):
        assert not imported, f"line.py imports {imported}"
    elif not (here and here[0] in ROUTERS) and here != ():
        jobs = {target[0] for target in imported if target} & set(JOBS)
        # compat.py may name an engine's plain data type for its signatures.
        allowed = {"meters"} if here == ("compat",) else set()
        assert jobs <= allowed, f"shared module {path.name} imports a job: {jobs}"


@pytest.mark.parametrize(
    "module",
    [
        "custom_components.smartcity_ddc.line",
        *(
            f"custom_components.smartcity_ddc.{job}.engine.{path.stem}"
            for job in JOBS
            for path in sorted((PACKAGE / job / "engine").glob("*.py"))
            if path.stem != "__init__"
        ),
    ],
)
def test_engines_import_nothing_from_home_assistant(module: str) -> None:
    """Import the module in a fresh interpreter and look at everything that came with it.

    The integration's own __init__ is Home Assistant glue by definition; it is
    stood in for by a bare package so that only the module and what it
    imports are loaded.
    """
    code = (
        "import importlib, sys, types\n"
        "package = types.ModuleType('custom_components.smartcity_ddc')\n"
        f"package.__path__ = [{str(PACKAGE)!r}]\n"
        "sys.modules[package.__name__] = package\n"
        f"importlib.import_module({module!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'homeassistant'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parents[1],
    )
    assert result.stdout.strip() == "[]", result.stdout
