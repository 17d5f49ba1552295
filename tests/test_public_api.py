"""The public API promised by the project's API document: names, parameters, docstrings.

Every function of :data:`API` must exist, have a docstring and accept the listed
parameters: the positional ones first, in that order, with those names; the keyword-only
ones (after ``*``) as keyword-only parameters; listed defaults equal (``...`` = "has a
default"). More parameters are fine if they have defaults. :data:`PENDING` holds the
wave-2 names that are not implemented yet: their test is skipped while the name is
missing and fails once it exists, so that the entry moves into :data:`API`.

Every exported bijector of :mod:`likelihood_jax.flows` must have
``forward_and_log_det(params, x, ...)`` and ``inverse_and_log_det(params, y | z, ...)``,
and ``Flow`` must have ``log_prob`` and ``sample``. Every name in the ``__all__`` of a
public module must exist, and the functions, classes and modules among them must have a
docstring. :data:`KNOWN_GAPS` lists today's exceptions; it may only shrink.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import likelihood_jax

_REGULAR_CRF = "unary, transition, dfa_next, dfa_accept, *, dfa_start=0, start=None, end=None"

#: (module under likelihood_jax, name, parameter list as written in the API document).
API: tuple[tuple[str, str, str], ...] = (
    ("estimators", "exact_divergence", "f, x"),
    ("estimators", "hutchinson_divergence",
     "f, x, key, *, num_probes=1, probe='rademacher', mode='jvp'"),
    ("estimators", "divergence_and_value", "f, x, key=None"),
    ("score_matching", "exact_score_matching", "score_fn, x"),
    ("score_matching", "sliced_score_matching",
     "score_fn, x, key, *, num_slices=1, probe='rademacher', variance_reduction=False"),
    ("score_matching", "denoising_score_matching", "score_fn, x, key, sigma"),
    ("score_matching", "finite_difference_sliced_score_matching",
     "log_prob_fn, x, key, *, eps=..."),
    ("score_matching", "score_from_log_prob", "log_prob_fn"),
    ("distributions", "normal_log_prob", "x, mean=0.0, log_scale=0.0"),
    ("distributions", "discretized_logistic_mixture_log_prob",
     "x, logit_weights, means, log_scales, *, num_bits=8"),
    ("distributions", "gaussian_mixture_log_prob", "x, weights, means, covariances"),
    ("metrics", "bits_per_dim", "nll_nats, num_dims"),
    ("metrics", "dequantized_bits_per_dim", "log_prob, num_dims, *, num_levels=256, scale=..."),
    ("structured", "crf_log_partition", "unary, transition, start=None, end=None"),
    ("structured", "crf_log_likelihood", "tags, unary, transition, start=None, end=None"),
    ("structured", "crf_viterbi", "unary, transition, start=None, end=None"),
    ("structured", "regular_crf_log_partition", _REGULAR_CRF),
    ("structured", "regular_crf_viterbi", _REGULAR_CRF),
    ("mixtures", "gmm_em_step", "x, weights, means, covariances, *, reg_covar=0.0"),
    ("transport", "exact_ot_pairing", "x0, x1"),
    ("transport", "sinkhorn_plan", "x0, x1, *, epsilon"),
    ("metrics", "mmd_squared", "x, y, *, bandwidth, unbiased=True"),
    ("metrics", "auroc", "scores, labels"),
    ("gaussian_process", "exact_log_marginal_likelihood", "kernel_matrix, y, *, noise_variance"),
    ("gaussian_process", "laplace_log_marginal_likelihood", "kernel_matrix, y"),
    ("scoring", "min_k_percent", "token_log_probs, *, k=0.2"),
    ("scoring", "min_k_plus_plus", "token_log_probs, log_probs, *, k=0.2"),
    ("metrics", "logme", "features, labels"),
)

#: Wave 2: promised, not implemented yet (same format as :data:`API`).
PENDING: tuple[tuple[str, str, str], ...] = (
)

#: Today's known gaps (test id -> why): their tests xfail while the gap is there and fail once
#: it is fixed, so that the entry is deleted. This may only shrink.
KNOWN_GAPS: dict[str, str] = {
}

_NO_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class Param:
    """One promised parameter: its name, whether it is keyword-only, and its default.

    ``default`` is ``_NO_DEFAULT`` when none is promised and ``Ellipsis`` when some default
    is promised without its value.
    """

    name: str
    keyword_only: bool
    default: object = _NO_DEFAULT


def parse_params(text: str) -> tuple[Param, ...]:
    """The promised parameters of an API entry, parsed as a Python parameter list.

    Args:
      text: E.g. ``"f, x, key, *, num_probes=1"``.

    Returns:
      The parameters in order.
    """
    args = ast.parse(f"def f({text}): pass").body[0].args
    positional = args.posonlyargs + args.args
    defaults = [_NO_DEFAULT] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(d) for d in args.defaults]
    params = [Param(a.arg, False, d) for a, d in zip(positional, defaults)]
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        value = _NO_DEFAULT if default is None else ast.literal_eval(default)
        params.append(Param(arg.arg, True, value))
    return tuple(params)


def signature_problems(func, promised: tuple[Param, ...], skip_self: bool = False) -> list[str]:
    """How ``func``'s signature breaks the promised parameters (empty when it keeps them).

    Args:
      func: The callable.
      promised: From :func:`parse_params`.
      skip_self: Drop the first parameter (an unbound method's ``self``).

    Returns:
      One sentence per problem.
    """
    actual = list(inspect.signature(func).parameters.values())
    if skip_self:
        actual = actual[1:]
    by_name = {p.name: p for p in actual}
    positional = [p for p in actual if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    problems = []
    wanted_positional = [p for p in promised if not p.keyword_only]
    got = [p.name for p in positional[: len(wanted_positional)]]
    if got != [p.name for p in wanted_positional]:
        problems.append(
            f"positional parameters start {got}, promised {[p.name for p in wanted_positional]}")
    for param in promised:
        have = by_name.get(param.name)
        if have is None:
            problems.append(f"no parameter {param.name!r}")
            continue
        if param.keyword_only and have.kind is not have.KEYWORD_ONLY:
            problems.append(f"{param.name!r} is not keyword-only")
        if param.default is Ellipsis and have.default is have.empty:
            problems.append(f"{param.name!r} has no default")
        elif param.default not in (_NO_DEFAULT, Ellipsis) and (
            have.default is have.empty or have.default != param.default
            or type(have.default) is not type(param.default)
            and not isinstance(param.default, float)
        ):
            problems.append(f"{param.name!r} defaults to {have.default!r}, promised "
                            f"{param.default!r}")
    promised_names = {p.name for p in promised}
    for have in actual:
        if (have.name not in promised_names and have.default is have.empty
                and have.kind not in (have.VAR_POSITIONAL, have.VAR_KEYWORD)):
            problems.append(f"extra parameter {have.name!r} has no default")
    return problems


def has_docstring(obj) -> bool:
    """Whether ``obj`` carries its own documentation (not a dataclass's generated one)."""
    doc = getattr(obj, "__doc__", None)
    if not doc or not doc.strip():
        return False
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        return not doc.startswith(f"{obj.__name__}(")
    return True


def _check_gap(gap: str, problems: list[str]) -> None:
    """Fails with ``problems`` unless ``gap`` is a known gap (xfail while it is not fixed)."""
    if gap in KNOWN_GAPS:
        if problems:
            pytest.xfail(f"known gap: {KNOWN_GAPS[gap]}")
        pytest.fail(f"{gap} is fixed: delete it from KNOWN_GAPS in tests/test_public_api.py")
    assert not problems, "; ".join(problems)


def _entry_id(entry: tuple[str, str, str]) -> str:
    return f"{entry[0]}.{entry[1]}"


@pytest.mark.parametrize("module, name, params", API, ids=_entry_id)
def test_promised_function(module, name, params):
    mod = importlib.import_module(f"likelihood_jax.{module}")
    assert hasattr(mod, name), f"likelihood_jax.{module} has no {name}"
    func = getattr(mod, name)
    assert has_docstring(func), f"likelihood_jax.{module}.{name} has no docstring"
    problems = signature_problems(func, parse_params(params))
    assert not problems, f"likelihood_jax.{module}.{name}({params}): " + "; ".join(problems)


@pytest.mark.parametrize("module, name, params", PENDING, ids=_entry_id)
def test_pending_function_is_still_missing(module, name, params):
    try:
        mod = importlib.import_module(f"likelihood_jax.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"likelihood_jax.{module}":
            raise
        mod = None
    if mod is None or not hasattr(mod, name):
        pytest.skip(f"wave 2: likelihood_jax.{module}.{name}({params}) is not implemented yet")
    pytest.fail(f"likelihood_jax.{module}.{name} exists now: move its entry from PENDING to API "
                "in tests/test_public_api.py")


def test_api_and_pending_entries_are_well_formed():
    entries = API + PENDING
    assert len({_entry_id(e) for e in entries}) == len(entries)
    for entry in entries:
        assert parse_params(entry[2])


def _flows():
    return importlib.import_module("likelihood_jax.flows")


def _exported_bijectors() -> list[str]:
    flows = _flows()
    return [name for name in flows.__all__
            if inspect.isclass(getattr(flows, name))
            and hasattr(getattr(flows, name), "forward_and_log_det")]


def test_flows_export_bijectors():
    names = _exported_bijectors()
    assert "Bijector" in names and "AffineCoupling" in names and "Chain" in names


@pytest.mark.parametrize("name", _exported_bijectors())
def test_every_bijector_has_both_directions(name):
    cls = getattr(_flows(), name)
    for method, second in (("forward_and_log_det", ("x",)),
                           ("inverse_and_log_det", ("y", "z"))):
        func = getattr(cls, method, None)
        assert func is not None, f"{name} has no {method}"
        assert has_docstring(func), f"{name}.{method} has no docstring"
        params = list(inspect.signature(func).parameters)[1:3]
        problems = []
        if not (params[:1] == ["params"] and params[1:] and params[1] in second):
            problems.append(f"{name}.{method}{inspect.signature(func)}: promised (params, "
                            f"{' | '.join(second)}, ...)")
        _check_gap(f"flows.{name}.{method}", problems)


def test_flow_has_log_prob_and_sample():
    flow = _flows().Flow
    for method in ("log_prob", "sample"):
        func = getattr(flow, method, None)
        assert func is not None and has_docstring(func), f"Flow.{method}"
        assert list(inspect.signature(func).parameters)[1:2] == ["params"], (
            f"Flow.{method}{inspect.signature(func)}: params first")


def _public_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(likelihood_jax.__path__)
                  if not info.name.startswith("_") and info.name != "main")


def test_public_modules_are_found():
    assert {"estimators", "data", "flows", "metrics", "train"} <= set(_public_modules())


@pytest.mark.parametrize("module", _public_modules())
def test_exports_exist_and_are_documented(module):
    mod = importlib.import_module(f"likelihood_jax.{module}")
    _check_gap(f"{module} (module docstring)",
               [] if has_docstring(mod) else [f"likelihood_jax.{module} has no module docstring"])
    missing, undocumented = [], []
    for name in getattr(mod, "__all__", ()):
        if not hasattr(mod, name):
            missing.append(name)
            continue
        obj = getattr(mod, name)
        documentable = inspect.isclass(obj) or inspect.ismodule(obj) or inspect.isroutine(obj) or (
            callable(obj) and hasattr(obj, "__wrapped__"))
        if documentable and not has_docstring(obj):
            undocumented.append(name)
    assert not missing, f"likelihood_jax.{module}.__all__ names missing attributes: {missing}"
    assert not undocumented, f"likelihood_jax.{module}: no docstring on {undocumented}"


def test_signature_check_catches_broken_promises():
    promised = parse_params("f, x, key=None, *, num=1, scale=...")

    def keeps(f, x, key=None, extra=2, *, num=1, scale=0.5, **kwargs):
        """Keeps the promise."""

    def reordered(x, f, key=None, *, num=1, scale=0.5):
        """Swaps f and x."""

    def positional_num(f, x, key=None, num=1, *, scale=0.5):
        """num is not keyword-only."""

    def other_default(f, x, key=None, *, num=True, scale=None):
        """num defaults to True, not 1 (scale=None is a default)."""

    def extra_required(f, x, key=None, *, num=1, scale=0.5, sigma):
        """Adds a required parameter."""

    def no_scale_default(f, x, key=None, *, num=1, scale):
        """scale has no default."""

    assert signature_problems(keeps, promised) == []
    for func, expected in ((reordered, "positional parameters"),
                           (positional_num, "not keyword-only"),
                           (other_default, "defaults to True"),
                           (extra_required, "'sigma' has no default"),
                           (no_scale_default, "'scale' has no default")):
        assert any(expected in p for p in signature_problems(func, promised)), func.__name__
