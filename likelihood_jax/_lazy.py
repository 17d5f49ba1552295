"""Names of a package loaded on first use (PEP 562), for the packages' ``__init__`` files.

A package lists which submodule defines each public name; importing the package then imports
none of them (so that, e.g., a config file importing ``likelihood_jax.train.config`` or
``likelihood_jax.flows.presets`` does not import jax), and ``package.name`` imports the
defining submodule on first use.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Mapping


def lazy_attributes(package: str, namespace: Mapping[str, Any], exports: Mapping[str, str],
                    submodules: Iterable[str] = ()) -> tuple[Callable, Callable]:
    """The module-level ``(__getattr__, __dir__)`` of ``package``.

    Args:
      package: the package's ``__name__``.
      namespace: the package's ``globals()`` (what ``dir`` lists besides the lazy names).
      exports: public name -> the submodule of ``package`` that defines it.
      submodules: submodule names that are attributes of the package as well.
    """
    submodules = frozenset(submodules)

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(exports) | submodules)

    return __getattr__, __dir__
