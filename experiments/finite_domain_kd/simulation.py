"""The tabular simulation of Zhao & Zhu (2024) [P050]: teachers, closed-form learners, risk vs n.

Every learner of the paper is a function of the count table ``n_{s,a}`` of the
``n`` samples (and of the teacher's probabilities at what was seen), so one draw
of a data set is one multinomial draw of ``n`` over the ``|S| |A|`` cells with
probabilities ``rho(s) pi*(a | s)``; the cost of a repeat does not grow with ``n``.
The closed forms, with the paper's inductive bias (Section 6: an unseen input gets
``Uniform(A)``; ``SEL_ptl`` spreads the missing mass of an input uniformly over its
unseen labels):

* ``ce_sgl`` (hard labels, MLE, eq. 3.3): ``n_{s,a} / n_s``;
* ``ce_ptl`` (naive partial-soft-label CE, eq. 4.3): ``∝ n_{s,a} pi*(a | s)`` (biased);
* ``sel_ptl`` (empirical squared-error logit loss, eq. 4.7): ``pi*(a | s)`` on seen
  ``(s, a)``, the rest of the mass uniform over unseen labels;
* ``ce_ful`` (full soft labels, KL minimizer, eq. 5.2): ``pi*(. | s)`` on seen ``s``.

The risk is ``TV(pi_hat, pi* | rho) = sum_s rho(s) TV(pi_hat(. | s), pi*(. | s))`` (eq. 2.1).
Teachers (``kind``): ``"random"`` (rows ~ Dirichlet(``concentration``), ``rho``
uniform, fixed in ``n``), ``"instance0"`` (``0.5 Uniform + 0.5 Dirac``, the
paper's classic-regime instance) and the paper's adversarial ``"instance1"``
(hard for hard labels), ``"instance2"`` (hard for partial soft labels),
``"instance3"`` (hard for full soft labels), which change with ``n`` (Appendix F).
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.synthetic.finite_domain import KINDS, make_teacher  # noqa: F401 (re-export)

LEARNERS = ("ce_sgl", "ce_ptl", "sel_ptl", "ce_ful")


def sample_counts(rng: np.random.Generator, rho: np.ndarray, pi: np.ndarray, n: int,
                  repeats: int) -> np.ndarray:
    """``[R, S, A]`` counts of ``n`` i.i.d. samples ``s ~ rho, a ~ pi*(. | s)``, ``R`` times."""
    p = (rho[:, None] * pi).ravel()
    p = p / p.sum()
    return rng.multinomial(n, p, size=repeats).reshape((repeats,) + pi.shape)


def closed_form(learner: str, counts: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """The learner's ``[..., S, A]`` estimate from ``[..., S, A]`` counts (paper's closed forms)."""
    if learner not in LEARNERS:
        raise ValueError(f"unknown learner {learner!r}; choose one of {LEARNERS}")
    num_a = pi.shape[-1]
    n_s = counts.sum(-1, keepdims=True)
    seen_s = n_s > 0
    uniform = np.full(counts.shape, 1.0 / num_a)
    if learner == "ce_sgl":
        est = counts / np.maximum(n_s, 1)
    elif learner == "ce_ptl":
        w = counts * pi
        est = w / np.maximum(w.sum(-1, keepdims=True), 1e-300)
    elif learner == "sel_ptl":
        seen = counts > 0
        missing = 1.0 - np.sum(np.where(seen, pi, 0.0), -1, keepdims=True)
        num_unseen = np.sum(~seen, -1, keepdims=True)
        spread = np.clip(missing, 0.0, None) / np.maximum(num_unseen, 1)
        est = np.where(seen, pi, spread)
    else:
        est = np.broadcast_to(pi, counts.shape)
    return np.where(seen_s, est, uniform)


def tv_risk(estimate: np.ndarray, pi: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``TV(pi_hat, pi* | rho)`` over the leading axes of ``estimate [..., S, A]``."""
    return np.sum(rho * 0.5 * np.abs(estimate - pi).sum(-1), -1)


def fit_slope(ns, risks) -> float:
    """Least-squares slope of ``log risk`` against ``log n`` (nan if any risk is 0)."""
    risks = np.asarray(risks, np.float64)
    if np.any(risks <= 0):
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(ns, np.float64)), np.log(risks), 1)[0])


def rate_sweep(kind: str, num_s: int, num_a: int, ns, repeats: int, seed: int = 0,
               concentration: float = 1.0) -> dict:
    """Mean TV risk of every learner at each ``n`` (a fresh instance per ``n`` when it scales).

    Returns:
      ``{"ns": [...], "risk": {learner: [...]}, "stderr": {...}, "slope": {learner: float},
      "rate_ratio": {"ce_sgl": risk / sqrt(SA/n), "sel_ptl": risk / (SA/n),
      "ce_ful": risk / (S/n)} at each n}``.
    """
    rng = np.random.default_rng(seed)
    out = {"kind": kind, "num_s": num_s, "num_a": num_a, "repeats": repeats,
           "ns": [int(n) for n in ns], "risk": {k: [] for k in LEARNERS},
           "stderr": {k: [] for k in LEARNERS}}
    for n in ns:
        rho, pi = make_teacher(kind, num_s, num_a, int(n), seed, concentration)
        counts = sample_counts(rng, rho, pi, int(n), repeats)
        for learner in LEARNERS:
            risk = tv_risk(closed_form(learner, counts, pi), pi, rho)
            out["risk"][learner].append(float(risk.mean()))
            out["stderr"][learner].append(float(risk.std() / np.sqrt(repeats)))
    ns_arr = np.asarray(ns, np.float64)
    out["slope"] = {k: fit_slope(ns, out["risk"][k]) for k in LEARNERS}
    out["rate_ratio"] = {
        "ce_sgl": list(np.asarray(out["risk"]["ce_sgl"]) / np.sqrt(num_s * num_a / ns_arr)),
        "sel_ptl": list(np.asarray(out["risk"]["sel_ptl"]) / (num_s * num_a / ns_arr)),
        "ce_ful": list(np.asarray(out["risk"]["ce_ful"]) / (num_s / ns_arr)),
    }
    return out
