"""The end-to-end timing report and the median budget of tests/conftest.py."""

from tests.conftest import E2E_MEDIAN_LIMIT_S, e2e_report, median_verdict


def test_report_has_family_totals_median_and_the_slowest_first():
    lines = [{"slug": s, "config": "c", "family": f, "cpu_s": t, "wall_s": t, "first_step_s": 1.0}
             for s, f, t in [("a", "flows", 2.0), ("b", "flows", 4.0), ("c", "sequence", 9.0)]]
    text, median = e2e_report(lines)
    assert median == 4.0
    assert "runs: 3, total 15.0 CPU s, median 4.00 s" in text
    flows = next(line for line in text.splitlines() if line.startswith("flows"))
    assert flows.split() == ["flows", "2", "6.0", "3.00"]
    slowest = text.split("ten slowest")[1].splitlines()[1:]
    assert slowest[0].split()[0] == "c:c" and slowest[-1].split()[0] == "a:c"


def test_median_over_budget_fails_unless_the_machine_was_oversubscribed():
    assert median_verdict(E2E_MEDIAN_LIMIT_S, load=2.0, cores=2) is None
    assert median_verdict(E2E_MEDIAN_LIMIT_S + 0.1, load=2.0, cores=2).startswith("FAILED")
    assert median_verdict(E2E_MEDIAN_LIMIT_S + 0.1, load=3.2, cores=2).startswith("WARNING")
