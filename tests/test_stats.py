"""The statistics stage against a plain Python implementation of the same definitions."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastscan
import stats_oracle
from shards import sample_records

SCANNER = fastscan.Scanner(threads=2)
COUNTS = {"chars", "words", "lines", "paragraphs", "stop_words"}

# Texts built from pieces that exercise every definition: words, stop words, bullets,
# ellipses, hashes, repeated lines and paragraphs, non-ASCII letters, symbols, odd spaces.
PIECES = st.sampled_from(
    [
        "the", "The", "and", "of", "to", "with", "have", "be", "that", "word", "API", "get",
        "x", "#", "...", "…", "•", "-", "*", "—", "©", "42", "٣", "Ünï", "ΣΑΣ", "日本",
        "a_b", "(", ")", "!!", "\u0301",
        " ", "  ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", "\xa0", "\u2003", "\u3000", "\x1c",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.lists(PIECES, max_size=80).map("".join),
    st.lists(PIECES, max_size=12).map(lambda p: "".join(p) * 3),
    st.text(
        alphabet=st.characters(exclude_categories=("Cs", "Cn")),
        max_size=200,
    ),
)


def check(texts: list[str]) -> None:
    batch = SCANNER.stats(texts)
    rows = batch.to_pylist()
    for text, row in zip(texts, rows, strict=True):
        expected = stats_oracle.stats(text)
        assert set(row) == set(expected)
        for name, value in expected.items():
            if name in COUNTS:
                assert row[name] == value, (name, text)
            else:
                assert math.isclose(row[name], value, rel_tol=1e-12, abs_tol=1e-15), (
                    name,
                    text,
                    row[name],
                    value,
                )


@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_stats_match_the_python_definitions(texts: list[str]) -> None:
    check(texts)


def test_stats_of_the_samples() -> None:
    check([r["text"] for r in sample_records()])


def test_schema_and_inputs() -> None:
    texts = ["one two\n\nthree", "", "a a a a a a a a a a a a"]
    from_list = SCANNER.stats(texts)
    assert from_list.schema.field("words").type == pa.uint64()
    assert from_list.schema.field("dup_5gram_char_frac").type == pa.float64()
    assert from_list.num_columns == 30
    for array in (
        pa.array(texts),
        pa.array(texts, pa.large_string()),
        pa.array([t.encode() for t in texts], pa.binary()),
        pa.chunked_array([texts[:1], texts[1:]]),
    ):
        assert SCANNER.stats(array).equals(from_list)
    assert fastscan.Scanner(threads=1).stats(texts).equals(from_list)
    # Nulls are empty documents; bytes that are not UTF-8 read as U+FFFD.
    with_null = SCANNER.stats(pa.array(["x", None]))
    assert with_null.column("chars").to_pylist() == [1, 0]
    assert SCANNER.stats([b"\xffab"]).column("non_ascii_frac").to_pylist() == [1 / 3]


def test_repetitive_text_scores_as_repetitive() -> None:
    spam = "buy now " * 200
    prose = sample_records()[0]["text"]
    rows = SCANNER.stats([spam, prose]).to_pylist()
    assert rows[0]["dup_10gram_char_frac"] > 0.7  # spaces are not counted
    assert rows[0]["top_2gram_char_frac"] > 0.85
    assert rows[1]["dup_10gram_char_frac"] < 0.2


def test_a_single_text_is_refused() -> None:
    with pytest.raises(TypeError, match="batch"):
        SCANNER.stats("one text")
