"""Import layering of ``likelihood_jax`` and ``experiments``, checked by an AST scan.

The scan parses every module (nothing is imported, no jax) and checks who imports whom:

* core (:data:`CORE`: estimators, score_matching, distributions, ... and the package root)
  imports only core and third-party packages;
* infrastructure (:data:`INFRA`: ``data``, ``models``) imports core and infrastructure,
  never ``train``, ``main`` or a family;
* the trainer (:data:`TRAINER`: ``train``, ``main``) imports anything in ``likelihood_jax``;
* a family (:data:`FAMILIES`) imports core, infrastructure and itself, never another
  family; only its ``experiment`` module imports ``train``;
* a ``presets`` module imports only ``ml_collections`` (and the standard library, e.g.
  ``typing``);
* nothing in ``likelihood_jax`` imports ``experiments``, and ``experiments.<a>`` never
  imports ``experiments.<b>``;
* a config file (``experiments/<slug>/configs/*.py``) imports no jax stack
  (:data:`JAX_STACK`) and nothing of ``likelihood_jax.train`` but
  ``likelihood_jax.train.config``, and none of its imports loads the jax stack at import
  time (followed through the module-level imports of every module and parent package).

Imports inside functions count for the layering rules (a lazy import is still a
dependency); only module-level ones count for what a config loads. A string constant
``"likelihood_jax.x.y:function"`` (a lazy loader registration) counts as an import of
``likelihood_jax.x.y``.

Today's exceptions are in :data:`ALLOW_LIST`. It may only shrink: a listed import that is
no longer a violation fails the test until its entry is removed. Print the current
violations, as the literal to paste, with::

    python tests/test_layering.py --print-violations
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import functools
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "likelihood_jax"
EXPERIMENTS = "experiments"

#: Core modules and packages (directly under likelihood_jax).
CORE = frozenset({
    "_checks",
    "_lazy",
    "density",
    "distributions",
    "estimators",
    "gaussian_process",
    "metrics",
    "ode",
    "score_matching",
    "scoring",
    "sde",
    "transport",
    "types",
})
#: Infrastructure packages.
INFRA = frozenset({"data", "models"})
#: The trainer: may import anything in likelihood_jax.
TRAINER = frozenset({"main", "train"})
#: Family packages.
FAMILIES = frozenset({
    "continuous_time",
    "energy",
    "flows",
    "mixtures",
    "predictive",
    "sequence",
    "structured",
    "variational",
})
#: Third-party packages that import jax (a config file must not load them).
JAX_STACK = frozenset({"chex", "flax", "jax", "jaxlib", "optax", "orbax"})
#: The trainer modules a config file may import (they import no jax).
# train.config and train.stages import no jax at module level (checked transitively below):
# configs build their modes and their stage chains with them.
CONFIG_MAY_IMPORT_FROM_TRAINER = frozenset({f"{PACKAGE}.train.config", f"{PACKAGE}.train.stages"})
#: What a presets module may import, besides the standard library.
PRESETS_MAY_IMPORT = frozenset({"ml_collections"})

# Today's violations, as (importer, imported) module names. This list may only shrink:
# fix the import and delete its entry; never add one for new code. Regenerate with
# `python tests/test_layering.py --print-violations`.
ALLOW_LIST: frozenset[tuple[str, str]] = frozenset()

_LOADER_STRING = re.compile(rf"^({PACKAGE}(?:\.\w+)+):\w+$")


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's target.

    Attributes:
      importer: Dotted name of the importing module.
      target: Dotted name of the imported module (the most specific module of this repo
        that the statement names; for third-party imports the name as written).
      lineno: Line of the statement.
      at_import_time: Whether it runs when the importer is imported (not in a function,
        not under ``if TYPE_CHECKING``, not a loader string).
    """

    importer: str
    target: str
    lineno: int
    at_import_time: bool


@dataclasses.dataclass(frozen=True)
class Violation:
    """An import that breaks a layering rule."""

    importer: str
    target: str
    rule: str
    detail: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """The ALLOW_LIST entry of this violation."""
        return (self.importer, self.target)


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.lru_cache(maxsize=None)
def module_files() -> dict[str, pathlib.Path]:
    """Every module of ``likelihood_jax`` and ``experiments``: dotted name -> file."""
    files = {}
    for top in (PACKAGE, EXPERIMENTS):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[_module_name(path)] = path
    return files


def _is_package(name: str) -> bool:
    return module_files()[name].name == "__init__.py"


def _resolve_from(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <module> import ...`` (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = importer if _is_package(importer) else importer.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, importer: str):
        self.importer = importer
        self.imports: list[Import] = []
        self._lazy = 0

    def _add(self, target: str, node: ast.AST, lazy: bool = False) -> None:
        at_import_time = not (self._lazy or lazy)
        self.imports.append(Import(self.importer, target, node.lineno, at_import_time))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve_from(self.importer, node)
        known = module_files()
        for alias in node.names:
            child = f"{base}.{alias.name}"
            self._add(child if child in known else base, node)

    def _visit_lazy(self, node: ast.AST) -> None:
        self._lazy += 1
        self.generic_visit(node)
        self._lazy -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_lazy

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._lazy += 1
            for child in node.body:
                self.visit(child)
            self._lazy -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            match = _LOADER_STRING.match(node.value)
            if match:
                self._add(match.group(1), node, lazy=True)


@functools.lru_cache(maxsize=None)
def imports_of(module: str) -> tuple[Import, ...]:
    """The imports of one module of this repo."""
    path = module_files()[module]
    collector = _ImportCollector(module)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return tuple(collector.imports)


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def layer(module: str) -> str:
    """``core``, ``infra``, ``trainer``, ``family:<name>``, ``experiments`` or ``unclassified``."""
    parts = module.split(".")
    if parts[0] == EXPERIMENTS:
        return "experiments"
    if parts[0] != PACKAGE:
        return "third_party"
    if len(parts) == 1 or parts[1] in CORE:
        return "core"
    if parts[1] in INFRA:
        return "infra"
    if parts[1] in TRAINER:
        return "trainer"
    if parts[1] in FAMILIES:
        return f"family:{parts[1]}"
    return "unclassified"


def _is_config(module: str) -> bool:
    parts = module.split(".")
    return len(parts) == 4 and parts[0] == EXPERIMENTS and parts[2] == "configs"


def _import_time_deps(module: str) -> set[str]:
    """Modules that importing ``module`` executes directly: its imports and parent packages."""
    deps = {imp.target for imp in imports_of(module) if imp.at_import_time}
    parts = module.split(".")
    deps.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return deps


@functools.lru_cache(maxsize=None)
def _jax_path(module: str) -> tuple[str, ...] | None:
    """A chain of import-time imports from ``module`` to the jax stack, or None."""
    parents = {module: None}
    queue = collections.deque([module])
    known = module_files()
    while queue:
        current = queue.popleft()
        if _top(current) in JAX_STACK:
            path = []
            while current is not None:
                path.append(current)
                current = parents[current]
            return tuple(reversed(path))
        if current not in known:
            continue
        for dep in sorted(_import_time_deps(current)):
            if dep not in parents:
                parents[dep] = current
                queue.append(dep)
    return None


def _check_import(imp: Import) -> str | None:
    """The rule ``imp`` breaks, or None."""
    src, dst = layer(imp.importer), layer(imp.target)
    name = imp.importer.split(".")
    if src == "unclassified":
        return "unclassified module: add its package to a layer in tests/test_layering.py"
    if src != "experiments" and dst == "experiments":
        return "likelihood_jax imports experiments"
    if src == "experiments":
        if dst == "experiments" and len(imp.target.split(".")) > 1:
            if imp.target.split(".")[1] != name[1]:
                return "an experiment imports another experiment"
        if _is_config(imp.importer):
            if _top(imp.target) in JAX_STACK:
                return "a config file imports the jax stack"
            trainer = imp.target.split(".")[:2] in ([PACKAGE, "train"], [PACKAGE, "main"])
            if trainer and imp.target not in CONFIG_MAY_IMPORT_FROM_TRAINER:
                return ("a config file imports the trainer (only train.config and train.stages "
                        "are allowed)")
        return None
    if name[-1] == "presets" and _top(imp.target) not in (
        PRESETS_MAY_IMPORT | sys.stdlib_module_names
    ):
        return "presets imports something other than ml_collections"
    if dst == "third_party" or src == "trainer":
        return None
    if src == "core" and dst != "core":
        return f"core imports {dst}"
    if src == "infra" and dst not in ("core", "infra"):
        return f"infrastructure imports {dst}"
    if src.startswith("family:"):
        family = src.split(":")[1]
        if dst == "trainer" and imp.importer != f"{PACKAGE}.{family}.experiment":
            return "a family module other than its experiment.py imports the trainer"
        if dst.startswith("family:") and dst != src:
            return "a family imports another family"
        if dst == "unclassified":
            return "imports an unclassified module"
    return None


def find_violations() -> list[Violation]:
    """Every layering violation of the repository, sorted, one per (importer, target)."""
    found: dict[tuple[str, str], Violation] = {}
    for module in module_files():
        for imp in imports_of(module):
            rule = _check_import(imp)
            if rule is not None:
                found.setdefault((module, imp.target), Violation(
                    module, imp.target, rule, f"line {imp.lineno}"))
        if _is_config(module):
            for imp in imports_of(module):
                path = _jax_path(imp.target) if imp.at_import_time else None
                if path is not None and _top(imp.target) not in JAX_STACK:
                    found.setdefault((module, imp.target), Violation(
                        module, imp.target, "a config file loads the jax stack through an import",
                        " -> ".join(path)))
    return sorted(found.values(), key=lambda v: (v.rule, v.key))


def format_allow_list(violations: list[Violation]) -> str:
    """The ``ALLOW_LIST`` literal of ``violations``, grouped by rule."""
    lines = ["ALLOW_LIST: frozenset[tuple[str, str]] = frozenset({"]
    rule = None
    for violation in violations:
        if violation.rule != rule:
            rule = violation.rule
            lines.append(f"    # {rule}")
        entry = f"    ({violation.importer!r}, {violation.target!r}),"
        if len(entry) > 100:
            entry = f"    (\n        {violation.importer!r},\n        {violation.target!r},\n    ),"
        lines.append(entry.replace("'", '"'))
    lines.append("})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Tests.


def test_the_scan_sees_the_repository():
    modules = module_files()
    assert f"{PACKAGE}.data.loader" in modules and f"{PACKAGE}.train.config" in modules
    assert any(_is_config(m) for m in modules)
    targets = {imp.target for imp in imports_of(f"{PACKAGE}.data.loader")}
    assert f"{PACKAGE}.data.toys" in targets and "numpy" in targets


@pytest.mark.parametrize(
    "importer, target, rule",
    [
        ("likelihood_jax.estimators", "likelihood_jax.data.loader", "core imports infra"),
        ("likelihood_jax.metrics.graphs", "likelihood_jax.flows", "core imports family:flows"),
        ("likelihood_jax.data.loader", "likelihood_jax.train.loop", "infrastructure imports"),
        ("likelihood_jax.models.mlp", "likelihood_jax.sequence.x", "infrastructure imports"),
        ("likelihood_jax.flows.flow", "likelihood_jax.energy.x", "another family"),
        ("likelihood_jax.flows.flow", "likelihood_jax.train", "imports the trainer"),
        ("likelihood_jax.flows.presets", "numpy", "presets imports"),
        ("likelihood_jax.flows.presets", "likelihood_jax.flows.flow", "presets imports"),
        ("likelihood_jax.train.loop", "experiments.mle_flow", "imports experiments"),
        ("experiments.a.experiment", "experiments.b.experiment", "another experiment"),
        ("experiments.a.configs.c", "jax.numpy", "imports the jax stack"),
        ("experiments.a.configs.c", "likelihood_jax.train.loop", "imports the trainer"),
        ("experiments.a.configs.c", "likelihood_jax.train", "imports the trainer"),
        ("likelihood_jax.newthing", "numpy", "unclassified module"),
    ],
)
def test_each_rule_fires(importer, target, rule):
    assert rule in (_check_import(Import(importer, target, 1, True)) or "")


@pytest.mark.parametrize(
    "importer, target",
    [
        ("likelihood_jax.estimators", "likelihood_jax.metrics.graphs"),
        ("likelihood_jax.data.synthetic.graphs", "likelihood_jax.metrics.graphs"),
        ("likelihood_jax.models.mlp", "likelihood_jax.data"),
        ("likelihood_jax.flows.flow", "likelihood_jax.flows.base"),
        ("likelihood_jax.flows.flow", "likelihood_jax.models.mlp"),
        ("likelihood_jax.flows.experiment", "likelihood_jax.train"),
        ("likelihood_jax.flows.presets", "ml_collections"),
        ("likelihood_jax.main", "likelihood_jax.flows"),
        ("experiments.a.experiment", "experiments.a.configs.c"),
        ("experiments.a.experiment", "likelihood_jax.train.loop"),
        ("experiments.a.configs.c", "likelihood_jax.train.config"),
        ("experiments.a.configs.c", "likelihood_jax.flows.presets"),
    ],
)
def test_allowed_imports_pass(importer, target):
    assert _check_import(Import(importer, target, 1, True)) is None


def test_every_module_has_a_layer():
    unclassified = sorted(m for m in module_files() if layer(m) == "unclassified")
    assert not unclassified, (
        f"modules in no layer: {unclassified}; add their package to CORE, INFRA, TRAINER or "
        "FAMILIES in tests/test_layering.py")


def test_no_new_layering_violations():
    new = [v for v in find_violations() if v.key not in ALLOW_LIST]
    assert not new, "layering violations (see the module docstring for the rules):\n" + "\n".join(
        f"  {v.importer} imports {v.target} ({v.detail}): {v.rule}" for v in new)


def test_allow_list_only_shrinks():
    current = {v.key for v in find_violations()}
    fixed = sorted(ALLOW_LIST - current)
    assert not fixed, (
        "these ALLOW_LIST entries are no longer violations; delete them from "
        f"tests/test_layering.py: {fixed}")


def _jax_free_config() -> pathlib.Path | None:
    for module, path in module_files().items():
        if _is_config(module) and not any(
            imp.at_import_time and _jax_path(imp.target) for imp in imports_of(module)
        ):
            return path
    return None


def test_loading_a_config_does_not_import_jax():
    path = _jax_free_config()
    if path is None:
        pytest.skip("every config file loads jax today (see ALLOW_LIST)")
    code = (
        "import sys\n"
        "from likelihood_jax import main\n"
        f"config = main.load_config({str(path)!r})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(JAX_STACK)!r})\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"loading {path} imported the jax stack:\n{result.stderr}"


def main(argv: list[str] | None = None) -> int:
    """``--print-violations``: prints today's violations as the ALLOW_LIST literal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-violations", action="store_true",
                        help="print the current violations as the ALLOW_LIST literal")
    args = parser.parse_args(argv)
    violations = find_violations()
    if args.print_violations:
        print(format_allow_list(violations))
        return 0
    for v in violations:
        allowed = "allowed" if v.key in ALLOW_LIST else "NEW"
        print(f"{allowed}: {v.importer} -> {v.target} ({v.detail}): {v.rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
