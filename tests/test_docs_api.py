"""The API reference in docs/api/ is complete, generated from the code, and its examples run.

* every public name (the definition below, also stated in docs/api/README.md) appears on the
  page of its top-level module, in its module's section, and so does every name that the API
  document promises (:data:`tests.test_public_api.API`, and the wave-2 names of
  :data:`~tests.test_public_api.PENDING` once they exist);
* the generated part of each page equals what ``docs/gen_api.py`` writes now;
* every ```python block of docs/api/*.md runs in a fresh namespace, in seconds;
* no link in docs/ or README.md leaves the repository (``../shared``) or points to a file
  that does not exist.

Public names: for each module ``likelihood_jax.<m>``, ``likelihood_jax.<family>.<m>`` and
so on down (not ``_private`` modules, not ``likelihood_jax.main``, not
``likelihood_jax.data.builders`` and its modules), the names in ``__all__`` if the module
defines it, else the functions (also when wrapped by ``jax.jit`` or ``functools.lru_cache``)
and classes defined in that module (``obj.__module__ == module.__name__``) whose name does
not start with ``_``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import time
from pathlib import Path

import pytest

from tests import test_public_api

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "docs" / "api"
#: Most CPU time one example block may take (seconds of this process, compilation included;
#: CPU time rather than wall time, which depends on what else runs on the machine).
MAX_EXAMPLE_CPU_SECONDS = 10.0
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_api = _gen_api()


def _excluded(name: str) -> bool:
    if any(part.startswith("_") for part in name.split(".")):
        return True
    return name == "likelihood_jax.main" or name == "likelihood_jax.data.builders" or (
        name.startswith("likelihood_jax.data.builders."))


def documented_modules() -> list[str]:
    """Every module whose public names the reference covers (the definition above)."""
    found = []
    stack = ["likelihood_jax"]
    while stack:
        module = importlib.import_module(stack.pop())
        for info in pkgutil.iter_modules(module.__path__):
            name = f"{module.__name__}.{info.name}"
            if _excluded(name):
                continue
            found.append(name)
            if info.ispkg:
                stack.append(name)
    return sorted(found)


def public_names(module) -> list[str]:
    """The module's public names (the definition above)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        function = inspect.isroutine(obj) or (callable(obj) and hasattr(obj, "__wrapped__"))
        if function or inspect.isclass(obj):
            names.append(name)
    return names


def page_of(module: str) -> str:
    """The page that documents ``module``: its top-level module's."""
    return module.split(".")[1]


def _pages() -> list[str]:
    return sorted({page_of(m) for m in documented_modules()})


def module_section(text: str, module: str) -> str | None:
    """The part of a page under the heading ``### `module``` (None without that heading)."""
    match = re.search(rf"^### `{re.escape(module)}`\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    return match.group(1) if match else None


def lists_name(section: str, name: str) -> bool:
    """Whether a module section has an entry (``#### `name```) or a re-export bullet."""
    return re.search(rf"^(#### |- )`{re.escape(name)}`", section, re.M) is not None


def _read(page: str) -> str:
    path = API_DIR / f"{page}.md"
    assert path.exists(), f"no page {path.relative_to(ROOT)}: run python docs/gen_api.py " \
                          "and write its text"
    return path.read_text()


def test_pages_match_the_modules():
    assert {"estimators", "flows", "data", "train", "metrics"} <= set(_pages())
    assert gen_api.pages() == _pages()
    have = sorted(p.stem for p in API_DIR.glob("*.md") if p.name != "README.md")
    assert have == _pages(), "docs/api/ has a page per top-level module, no other"


def test_index_lists_every_page():
    index = (API_DIR / "README.md").read_text()
    for page in _pages():
        assert re.search(rf"^- \[`likelihood_jax\.{page}`\]\({page}\.md\)", index, re.M), (
            f"docs/api/README.md has no line '- [`likelihood_jax.{page}`]({page}.md): ...'")


@pytest.mark.parametrize("page", _pages())
def test_every_public_name_is_on_its_page(page):
    text = _read(page)
    missing = []
    for module_name in documented_modules():
        if page_of(module_name) != page:
            continue
        section = module_section(text, module_name)
        if section is None:
            missing.append(f"section {module_name}")
            continue
        module = importlib.import_module(module_name)
        missing += [f"{module_name}.{n}" for n in public_names(module)
                    if not lists_name(section, n)]
    assert not missing, f"docs/api/{page}.md lacks {missing}: run python docs/gen_api.py"


def _promised(entries):
    for module, name, _ in entries:
        try:
            mod = importlib.import_module(f"likelihood_jax.{module}")
        except ModuleNotFoundError:
            continue
        if hasattr(mod, name):
            yield module, name


@pytest.mark.parametrize("module, name", list(_promised(test_public_api.API)))
def test_promised_names_are_documented(module, name):
    section = module_section(_read(page_of(f"likelihood_jax.{module}")),
                             f"likelihood_jax.{module}")
    assert section is not None and lists_name(section, name), f"{module}.{name}"


def test_wave_two_names_are_documented_once_they_exist():
    for module, name in _promised(test_public_api.PENDING):
        section = module_section(_read(page_of(f"likelihood_jax.{module}")),
                                 f"likelihood_jax.{module}")
        assert section is not None and lists_name(section, name), f"{module}.{name}"


@pytest.mark.parametrize("page", _pages())
def test_reference_is_generated_from_the_code(page):
    text = _read(page)
    committed = gen_api.committed_reference(text)
    assert committed is not None, f"docs/api/{page}.md has no generated reference markers"
    assert committed == gen_api.render_reference(page), (
        f"docs/api/{page}.md is out of date: run python docs/gen_api.py")


@pytest.mark.parametrize("page", _pages())
def test_page_is_written_for_users(page):
    text = _read(page)
    user_part = text[: text.find(gen_api.START)]
    assert user_part.startswith(f"# `likelihood_jax.{page}`"), "title: # `likelihood_jax.<page>`"
    assert "TODO" not in user_part, f"docs/api/{page}.md still has the generated placeholder"
    assert _FENCE.search(user_part), f"docs/api/{page}.md has no ```python example"


def _examples() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(API_DIR.glob("*.md")):
        for i, match in enumerate(_FENCE.finditer(path.read_text())):
            found.append((path.name, i, match.group(1)))
    return found


@pytest.mark.parametrize("page, index, code", _examples(),
                         ids=[f"{p}-{i}" for p, i, _ in _examples()])
def test_example_runs(page, index, code):
    start = time.process_time()
    exec(compile(code, f"docs/api/{page} example {index}", "exec"), {"__name__": "__doc__"})
    seconds = time.process_time() - start
    assert seconds < MAX_EXAMPLE_CPU_SECONDS, (
        f"{page} example {index} took {seconds:.1f} CPU seconds: make it smaller")


def test_the_examples_are_found():
    pages = {p for p, _, _ in _examples()}
    assert {"estimators.md", "flows.md", "README.md"} <= pages


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def link_problems(text: str, directory: Path) -> list[str]:
    """Links of a Markdown text in ``directory`` that leave the repository or find no file."""
    problems = []
    if "../shared" in text:
        problems.append("mentions ../shared")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file = target.split("#")[0]
        resolved = (directory / file).resolve()
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target} leaves the repository")
        elif not resolved.exists():
            problems.append(f"{target} does not exist")
    return problems


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(path):
    problems = link_problems(path.read_text(), path.parent)
    assert not problems, f"{path.relative_to(ROOT)}: {problems}"


def test_link_check_catches_bad_links():
    text = ("[a](../../shared/API.md) [b](nope.md) [c](https://x.org) [d](#top) "
            "[e](api/README.md)")
    assert link_problems(text, ROOT / "docs") == [
        "mentions ../shared", "../../shared/API.md leaves the repository",
        "nope.md does not exist"]


def test_name_check_catches_a_missing_name():
    text = ("### `likelihood_jax.m`\n\n#### `f`\n\n- `g`: from `x`\n\n"
            "### `likelihood_jax.n`\n\n#### `h`\n")
    section = module_section(text, "likelihood_jax.m")
    assert lists_name(section, "f") and lists_name(section, "g")
    assert not lists_name(section, "h") and module_section(text, "likelihood_jax.z") is None


def test_definition_agrees_with_the_generator():
    for module_name in documented_modules():
        assert gen_api.public_names(importlib.import_module(module_name)) == public_names(
            importlib.import_module(module_name)), module_name
