"""A plain Python implementation of the statistics stage's definitions (the test oracle).

Written from the definitions in the README / ``fastscan_core::stats``, not from the Rust code:
Gopher quality and repetition features in datatrove's formulation, character classes by
Unicode general category, whitespace by the Unicode White_Space property.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# The Unicode White_Space property (PropList.txt): what Rust's char::is_whitespace tests.
WHITE_SPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + [" ", "\x85", "\xa0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)
STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}
# Bullet, triangular bullet, white bullet, hyphen bullet, hyphen-minus, asterisk.
BULLETS = ("\u2022", "\u2023", "\u25e6", "\u2043", "-", "*")


def is_alpha(c: str) -> bool:
    return unicodedata.category(c).startswith("L")


def is_punct(c: str) -> bool:
    return unicodedata.category(c)[0] in "PS"


def words_of(text: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    for c in text:
        if c in WHITE_SPACE:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        out.append("".join(cur))
    return out


def lstrip_ws(text: str) -> str:
    start = 0
    while start < len(text) and text[start] in WHITE_SPACE:
        start += 1
    return text[start:]


def rstrip_ws(text: str) -> str:
    end = len(text)
    while end > 0 and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[:end]


def duplicates(pieces: list[str]) -> tuple[int, int]:
    seen: set[str] = set()
    n = chars = 0
    for p in pieces:
        if p in seen:
            n += 1
            chars += len(p)
        else:
            seen.add(p)
    return n, chars


def top_ngram_chars(words: list[str], n: int) -> int:
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    counts = Counter(grams)
    top = max(counts.values())
    longest = max(len(" ".join(g)) for g, c in counts.items() if c == top)
    return top * longest


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    chars, i = 0, 0
    while i + n <= len(words):
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += sum(len(w) for w in gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def frac(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def stats(text: str) -> dict[str, float]:
    chars = len(text)
    words = words_of(text)
    n_words = len(words)
    lines = [line for line in text.split("\n") if line]
    paragraphs = [p for p in re.split(r"\n{2,}", rstrip_ws(lstrip_ws(text))) if p]
    content = [w for w in words if any(not is_punct(c) for c in w)]
    dup_lines, dup_line_chars = duplicates(lines)
    dup_paras, dup_para_chars = duplicates(paragraphs)
    out: dict[str, float] = {
        "chars": chars,
        "words": n_words,
        "lines": len(lines),
        "paragraphs": len(paragraphs),
        "stop_words": sum(w.isascii() and w.lower() in STOP_WORDS for w in words),
        "mean_word_length": frac(sum(len(w) for w in content), len(content)),
        "alpha_frac": frac(sum(is_alpha(c) for c in text), chars),
        "digit_frac": frac(sum(unicodedata.category(c) == "Nd" for c in text), chars),
        "punct_frac": frac(sum(is_punct(c) for c in text), chars),
        "whitespace_frac": frac(sum(c in WHITE_SPACE for c in text), chars),
        "upper_frac": frac(sum(unicodedata.category(c) == "Lu" for c in text), chars),
        "non_ascii_frac": frac(sum(ord(c) > 0x7F for c in text), chars),
        "alpha_word_frac": frac(sum(any(is_alpha(c) for c in w) for w in words), n_words),
        "symbol_word_ratio": frac(text.count("#"), n_words),
        "ellipsis_word_ratio": frac(text.count("...") + text.count("…"), n_words),
        "bullet_line_frac": frac(
            sum(lstrip_ws(line).startswith(BULLETS) for line in lines), len(lines)
        ),
        "ellipsis_line_frac": frac(
            sum(rstrip_ws(line).endswith(("...", "…")) for line in lines), len(lines)
        ),
        "dup_line_frac": frac(dup_lines, len(lines)),
        "dup_line_char_frac": frac(dup_line_chars, chars),
        "dup_para_frac": frac(dup_paras, len(paragraphs)),
        "dup_para_char_frac": frac(dup_para_chars, chars),
    }
    for n in (2, 3, 4):
        out[f"top_{n}gram_char_frac"] = frac(top_ngram_chars(words, n), chars)
    for n in range(5, 11):
        out[f"dup_{n}gram_char_frac"] = frac(duplicated_ngram_chars(words, n), chars)
    return out
