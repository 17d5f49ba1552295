"""docs/experiments.md tells the truth about every folder under experiments/.

Each experiment README states, right after its heading and the paper's citation paragraph, how
faithful its method is to the paper and whether the paper's claim held, one paragraph each:

    **Fidelity:** faithful|partial|substituted: <one-line reason>

    **Verdict:** reproduced|partly|not reproduced|no claim: <one-line reason, at this scale>

The index's *fidelity* cell repeats the Fidelity line; its *verdict* cell starts with the verdict
word and its reason.

Fast: imports experiment modules and constructs their classes (construction does no work,
see ``likelihood_jax.train.Experiment``); reading ``headline_metric`` of a flow experiment reads
its dataset's info (a small registered dataset). No training, no compilation.
"""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

from likelihood_jax.train import stages
from tests.discovery import EXPERIMENTS, family_of, slugs_on_disk

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "experiments.md"
COLUMNS = ("experiment", "papers", "primary", "configs", "headline metric",
           "headline (default mode)", "fidelity", "verdict (README)")
FIDELITY_WORDS = ("faithful", "partial", "substituted")
VERDICT_WORDS = ("reproduced", "partly", "not reproduced", "no claim")
# READMEs other helpers are rewriting now: the lead adds their Fidelity/Verdict lines and their
# index cells, then empties this tuple. Every other README must have the lines.
PENDING_FIDELITY: tuple[str, ...] = ()
NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?")
PAPER_ID = re.compile(r"P\d{3}")


def parse_doc(text: str) -> dict[str, dict]:
    """Rows of the per-family tables: ``slug -> {family, link, <column>: cell}``.

    A family section starts with a ``## `` heading naming ``(`likelihood_jax.<family>`)``.

    Raises:
      ValueError: a table whose header is not :data:`COLUMNS`, a row with another number of
        cells, or an experiment listed twice.
    """
    rows, family, header = {}, None, None
    for line in text.splitlines():
        if line.startswith("## "):
            match = re.search(r"\(`likelihood_jax\.(\w+)`\)", line)
            family, header = (match.group(1) if match else None), None
            continue
        if family is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            if tuple(cells) != COLUMNS:
                raise ValueError(f"table of {family}: header {cells}, expected {COLUMNS}")
            header = cells
            continue
        if set(line) <= set("|-: "):
            continue
        if len(cells) != len(header):
            raise ValueError(f"row with {len(cells)} cells, expected {len(header)}: {line}")
        link = re.fullmatch(r"\[`(\w+)`\]\(([^)]+)\)", cells[0])
        if not link:
            raise ValueError(f"experiment cell is not [`slug`](link): {cells[0]!r}")
        slug = link.group(1)
        if slug in rows:
            raise ValueError(f"experiment {slug!r} listed twice")
        rows[slug] = dict(zip(header, cells), family=family, link=link.group(2))
    return rows


def parse_metrics(cell: str, configs: list[str]) -> dict[str, str]:
    """``config -> metric`` of a cell ```nll` (toy2d), `bits_per_dim` (digits, mnist5k)``.

    One metric without parentheses applies to every config.
    """
    pairs = re.findall(r"`(\w+)`(?:\s*\(([^)]*)\))?", cell)
    if len(pairs) == 1 and not pairs[0][1]:
        return dict.fromkeys(configs, pairs[0][0])
    out = {}
    for metric, names in pairs:
        for name in (n.strip() for n in names.split(",")):
            if not name or name in out:
                raise ValueError(f"headline metric cell {cell!r}: missing or repeated config")
            out[name] = metric
    return out


def headline_metric(slug: str, config_name: str) -> str:
    """What the CLI prints on its test line for a config's default mode (last stage of a chain)."""
    from likelihood_jax.main import experiment_class

    config = importlib.import_module(f"experiments.{slug}.configs.{config_name}").get_config(None)
    names = stages.stage_names(config)
    if names:
        config = stages.stage_config(config, names[-1], "/nonexistent")
    # Several experiments set it per config (a property, or in the constructor), so the class
    # attribute alone is not the answer: construct (no work) and read it.
    return experiment_class(config.experiment)(config).headline_metric


def number_in(number: str, text: str) -> bool:
    """``number`` occurs in ``text`` not as a piece of a longer number."""
    return re.search(r"(?<![\d.])" + re.escape(number) + r"(?!\.?\d)", text) is not None


def word_and_reason(text: str, words: tuple[str, ...], what: str) -> tuple[str, str]:
    """Split ``"<word>: <reason>"`` with ``word`` one of ``words`` and a non-empty reason.

    Raises:
      ValueError: another word, no ``": "`` after it, or an empty reason.
    """
    word, sep, reason = text.partition(": ")
    if not sep or word not in words or not reason.strip():
        raise ValueError(f"{what} {text!r}: expected '<word>: <reason>', the word one of {words}")
    return word, reason.strip()


def readme_fidelity(readme: str) -> dict[str, tuple[str, str]] | None:
    """``{"fidelity": (word, reason), "verdict": (word, reason)}`` of a README, None without both.

    The two lines are the third and fourth paragraphs: after the ``# `` heading and the paper's
    citation paragraph, before the claim.

    Raises:
      ValueError: only one of the lines, a line elsewhere, twice, or with a bad word or no reason.
    """
    marks = ("**Fidelity:** ", "**Verdict:** ")
    if not any(mark in readme for mark in marks):
        return None
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", readme.strip())]
    out = {}
    for index, (key, mark, words) in enumerate(zip(("fidelity", "verdict"), marks,
                                                   (FIDELITY_WORDS, VERDICT_WORDS))):
        if readme.count(mark) != 1:
            raise ValueError(f"{mark.strip()} appears {readme.count(mark)} times, expected once")
        paragraph = paragraphs[2 + index] if len(paragraphs) > 2 + index else ""
        if not paragraph.startswith(mark) or "\n" in paragraph:
            raise ValueError(f"{mark.strip()} must be the one-line paragraph {3 + index} (after "
                             f"the heading and the citation paragraph); found {paragraph[:60]!r}")
        out[key] = word_and_reason(paragraph[len(mark):], words, mark.strip())
    return out


def config_files(slug: str) -> list[str]:
    return sorted(p.stem for p in (EXPERIMENTS / slug / "configs").glob("*.py")
                  if p.stem != "__init__" and "def get_config" in p.read_text())


ROWS = parse_doc(DOC.read_text())


def test_every_experiment_listed_once_and_none_missing_on_disk():
    on_disk = slugs_on_disk()
    assert sorted(ROWS) == on_disk, (
        f"missing from docs/experiments.md: {sorted(set(on_disk) - set(ROWS))}; "
        f"listed but not on disk: {sorted(set(ROWS) - set(on_disk))}")


def test_parse_doc_rejects_duplicates_and_bad_headers():
    header = "| " + " | ".join(COLUMNS) + " |\n|---|---|---|---|---|---|---|---|\n"
    row = "| [`a`](x) | p | c | c | `m` | 1 | f | v |\n"
    with pytest.raises(ValueError, match="listed twice"):
        parse_doc("## F (`likelihood_jax.flows`)\n" + header + row + row)
    with pytest.raises(ValueError, match="header"):
        parse_doc("## F (`likelihood_jax.flows`)\n| experiment | papers |\n")
    assert parse_doc("## F (`likelihood_jax.flows`)\n" + header + row)["a"]["family"] == "flows"


def test_parse_metrics():
    assert parse_metrics("`nll` (toy2d), `bits_per_dim` (digits, mnist5k)",
                         ["digits", "mnist5k", "toy2d"]) == {
        "toy2d": "nll", "digits": "bits_per_dim", "mnist5k": "bits_per_dim"}
    assert parse_metrics("`tv`", ["a", "b"]) == {"a": "tv", "b": "tv"}


def test_number_in():
    assert number_in("0.5", "x 0.5 y") and number_in("948", "9,948")
    assert not number_in("0.5", "0.505") and not number_in("3", "3.5")


@pytest.mark.parametrize("slug", slugs_on_disk())
def test_row(slug):
    if slug not in ROWS:
        pytest.fail(f"{slug} is not in docs/experiments.md")
    row = ROWS[slug]
    readme = (EXPERIMENTS / slug / "README.md").read_text()
    assert row["family"] == family_of(slug), f"{slug}: listed under the wrong family"
    assert (DOC.parent / row["link"]).resolve() == (EXPERIMENTS / slug / "README.md").resolve()

    primary = importlib.import_module(f"experiments.{slug}.configs").PRIMARY
    assert row["primary"] == primary, f"{slug}: primary {row['primary']!r} != PRIMARY"
    assert (EXPERIMENTS / slug / "configs" / f"{primary}.py").is_file()
    listed = [c.strip() for c in row["configs"].split(",")]
    assert sorted(listed) == config_files(slug), f"{slug}: configs {listed}"
    assert primary in listed

    first_line = readme.splitlines()[0]
    assert first_line.startswith("# ")
    assert set(PAPER_ID.findall(row["papers"])) == set(PAPER_ID.findall(first_line)), (
        f"{slug}: paper ids of the index vs README's first line {first_line!r}")

    metrics = parse_metrics(row["headline metric"], listed)
    assert sorted(metrics) == sorted(listed), f"{slug}: headline metric cell covers {metrics}"
    for name, metric in metrics.items():
        assert headline_metric(slug, name) == metric, f"{slug}:{name} headline metric"

    for column in ("headline (default mode)", "fidelity", "verdict (README)"):
        text = re.sub(r"`[^`]*`", "", row[column])
        numbers = NUMBER.findall(text)
        missing = [n for n in numbers if not number_in(n, readme)]
        assert not missing, f"{slug}: {column} numbers not in its README: {missing}"
    assert NUMBER.findall(row["headline (default mode)"]), (
        f"{slug}: headline without a number")


def test_word_and_reason_and_readme_fidelity():
    assert word_and_reason("not reproduced: x 1", VERDICT_WORDS, "v") == ("not reproduced", "x 1")
    for bad in ("maybe: x", "partly", "partly: ", "partly x"):
        with pytest.raises(ValueError, match="expected"):
            word_and_reason(bad, VERDICT_WORDS, "v")
    head = "# T [P001]\n\n**Paper.** A,\nB.\n\n"
    fid, ver = "**Fidelity:** partial: r 1\n\n", "**Verdict:** no claim: s\n\n"
    assert readme_fidelity(head + fid + ver + "**Claim.** c\n") == {
        "fidelity": ("partial", "r 1"), "verdict": ("no claim", "s")}
    assert readme_fidelity(head + "**Claim.** c\n") is None
    with pytest.raises(ValueError, match="paragraph 3"):  # below the claim
        readme_fidelity(head + "**Claim.** c\n\n" + fid + ver)
    with pytest.raises(ValueError, match="once"):  # Verdict missing
        readme_fidelity(head + fid + "**Claim.** c\n")
    with pytest.raises(ValueError, match="expected"):  # a verdict word for the fidelity
        readme_fidelity(head + fid.replace("partial", "partly") + ver)


@pytest.mark.parametrize("slug", slugs_on_disk())
def test_fidelity_and_verdict_up_front(slug):
    path = EXPERIMENTS / slug / "README.md"
    lines = readme_fidelity(path.read_text()) if path.is_file() else None
    if lines is None and slug in PENDING_FIDELITY:
        return
    assert lines is not None, (
        f"{slug}: README lacks the **Fidelity:** and **Verdict:** lines after its citation "
        f"paragraph (see this file's docstring)")
    assert slug in ROWS, f"{slug} is not in docs/experiments.md"
    row = ROWS[slug]
    word, reason = lines["fidelity"]
    assert row["fidelity"] == f"{word}: {reason}", (
        f"{slug}: fidelity cell {row['fidelity']!r} != the README's line {word}: {reason}")
    verdict = word_and_reason(row["verdict (README)"], VERDICT_WORDS, f"{slug} verdict cell")[0]
    assert verdict == lines["verdict"][0], (
        f"{slug}: verdict cell says {verdict!r}, the README {lines['verdict'][0]!r}")


def test_pending_fidelity_lists_only_readmes_without_the_lines():
    done = [slug for slug in PENDING_FIDELITY if (EXPERIMENTS / slug / "README.md").is_file()
            and readme_fidelity((EXPERIMENTS / slug / "README.md").read_text()) is not None]
    assert not done, f"remove {done} from PENDING_FIDELITY: their READMEs have the lines"


def test_readme_links_docs_and_lists_the_same_experiments():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/experiments.md)" in readme and "(docs/api/README.md)" in readme
    assert "../shared" not in readme and "/shared/papers" not in readme
    listed = {}
    for family, names in re.findall(r"^- \w+ \(`likelihood_jax\.(\w+)`\): ([^-]*?)\.$", readme,
                                    re.MULTILINE | re.DOTALL):
        listed.update(dict.fromkeys((n.strip() for n in names.split(",")), family))
    assert listed == {slug: row["family"] for slug, row in ROWS.items()}
    count = re.search(r"Each of the (\d+) experiments", readme)
    assert count and int(count.group(1)) == len(ROWS)
