"""The worst case of a pack of many ungated regexes (no required literal, so none is skipped
by the literal prefilter): past 8 they run as one `RegexSet` pass. Each regex is the largest
of its family the compiled-size cap accepts; the text is the input that keeps every one of
them alive (long runs of letters that never complete a match). Prints MB/s per core beside
the built-in pack on ordinary API text, measured in the same run.

    python benches/hostile_pack.py
"""

from __future__ import annotations

import time

import fastscan


def largest(template: str, lo: int = 10, hi: int = 4000) -> str:
    """The largest `{n}` for which `template` compiles under the size cap."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            fastscan.PatternPack.from_dict(
                {"group": [{"name": "g", "regexes": [template.format(n=mid)]}]}
            )
            lo = mid
        except fastscan.PackError:
            hi = mid - 1
    return template.format(n=lo)


def rate(scanner: fastscan.Scanner, texts: list[str]) -> float:
    scanner.scan(texts[:2])
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        scanner.scan(texts)
        best = min(best, time.perf_counter() - started)
    return sum(map(len, texts)) / best / 1e6


def main() -> None:
    builtin = fastscan.Scanner("tool-use", threads=1)
    normal = ["Call api.get(user_id=1): GET /v1/users returns JSON. " * 60] * 200
    base = rate(builtin, normal)
    families = {
        # A long counted run: the text keeps every position of it alive.
        "counted run": (
            "[a-z]{{{{{{n}}}}}}[0-9]{{{{{k}}}}}",
            ["qwertyuiopasdfghjklzxcvbnm" * 1200] * 20,
        ),
        # The classic exponential DFA: the n-th letter from the end is an 'a'.
        "exponential DFA": (
            "[ab]*a[ab]{{{{{{n}}}}}}[0-9]{{{{{k}}}}}",
            [("abababbbaaabbaabab" * 20 + "7") * 90] * 10,
        ),
    }
    print(f"built-in pack on API text: {base:.1f} MB/s per core\n")
    print("| family | ungated regexes | each | MB/s per core on hostile text | vs built-in |")
    print("|---|---:|---|---:|---:|")
    for family, (shape, hostile) in families.items():
        for count in (1, 8, 9, 16, 32):
            # Distinct, and without a required literal.
            regexes = [largest(shape.format(k=i + 1), hi=800) for i in range(count)]
            pack = fastscan.PatternPack.from_dict({"group": [{"name": "g", "regexes": regexes}]})
            r = rate(fastscan.Scanner(pack, threads=1), hostile)
            print(f"| {family} | {count} | `{regexes[0]}` | {r:.2f} | {r / base:.3f}x |")


if __name__ == "__main__":
    main()
