"""BM25 tokens from real SudachiPy (mode A, normalised forms)."""

from __future__ import annotations

import pytest

from indexer.tokenize import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def test_function_words_and_punctuation_are_dropped(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("特定技能２号の分野は？") == ["特定", "技能", "2", "号", "分野"]


@pytest.mark.parametrize("term", ["DX", "UNHCR", "ＦＲＥＳＣ", "IT", "SNS", "QR"])
def test_latin_script_terms_are_searchable(tokenizer: Tokenizer, term: str) -> None:
    import unicodedata

    expected = unicodedata.normalize("NFKC", term).lower()
    assert expected in tokenizer.tokenize(f"入管{term}の活用")


def test_english_words_keep_their_spelling(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("Which fields were added to Specified Skilled Worker (ii)?")
    assert tokens == ["fields", "added", "specified", "skilled", "worker", "ii"]


def test_full_and_half_width_forms_match(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("２０２４年") == tokenizer.tokenize("2024年")


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "😀" * 50, "あ" * 10_000, "שלום עולם"])
def test_odd_input_never_raises(tokenizer: Tokenizer, text: str) -> None:
    assert isinstance(tokenizer.tokenize(text), list)
