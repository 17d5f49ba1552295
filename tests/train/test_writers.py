"""``metrics.jsonl``: a partial last line is dropped (and said), another bad line is named."""

import json

import pytest

from likelihood_jax.train.writers import MetricWriter, read_metrics

LINES = [{"step": 4, "loss": 1.5}, {"step": 8, "loss": 1.25}]


def _write(path, text):
    (path / "metrics.jsonl").write_text(text)


def _text(lines):
    return "".join(json.dumps(m) + "\n" for m in lines)


def test_partial_last_line_is_skipped_then_dropped_and_reported(tmp_path):
    _write(tmp_path, _text(LINES) + '{"step": 12, "lo')
    assert read_metrics(str(tmp_path)) == LINES
    notes = []
    writer = MetricWriter(str(tmp_path), log=notes.append)
    writer.write(12, {"loss": 1.0})
    writer.close()
    assert len(notes) == 1 and "dropped a partial last line" in notes[0]
    assert (tmp_path / "metrics.jsonl").read_text() == _text(LINES + [{"step": 12, "loss": 1.0}])


def test_complete_last_line_without_its_newline_is_kept(tmp_path):
    _write(tmp_path, _text(LINES)[:-1])
    notes = []
    MetricWriter(str(tmp_path), resume_step=4, log=notes.append).close()
    assert not notes
    assert (tmp_path / "metrics.jsonl").read_text() == _text(LINES[:1])


@pytest.mark.parametrize("bad", ['{"step": 4, "lo', "[4, 1.5]"])
def test_a_bad_line_before_the_last_names_the_file_and_line(tmp_path, bad):
    _write(tmp_path, _text(LINES[:1]) + bad + "\n" + _text(LINES[1:]))
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2, is not a JSON object"):
        read_metrics(str(tmp_path))
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2"):
        MetricWriter(str(tmp_path), resume_step=8)
