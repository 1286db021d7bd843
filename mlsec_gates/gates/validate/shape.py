"""The shape of a text value: what open-ended text columns are checked by.

A column of names, codes or timestamps stored as text has too many values for a closed
value set (new ones are expected: Good-Turing), yet its values share a *form*: two capital
letters, ``9999-99-99 99:99``, words separated by spaces. The shape of a value keeps its
punctuation and replaces each run of ASCII digits by ``9`` and each run of ASCII letters
(words separated by single spaces included) by ``a``, the way Deequ and Great Expectations'
profilers suggest patterns. So ``"2019-03-07 10:15"`` and ``"2020-12-31 23:59"`` share the
shape ``9-9-9 9:9``, while a value from elsewhere (``"__never_seen__"``, ``"1; DROP TABLE"``
in a column of country codes, a number in a column of words) has a new one.

The suite then holds a regular expression matching exactly the shapes seen, written with
classes every engine GX runs on understands (Python, PostgreSQL, Spark, and SQLite through
the gate's REGEXP function): ``[0-9]+``, ``[A-Za-z]+(?: [A-Za-z]+)*`` and escaped literals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

#: Characters a regular expression treats specially (escaped with a backslash).
_SPECIAL = set(".^$*+?()[]{}|\\")
_DIGITS = "[0-9]+"
_LETTERS = "[A-Za-z]+(?: [A-Za-z]+)*"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_letter(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def shape_of(value: str) -> str:
    """``"AB-12 x"`` -> ``"a-9 a"``: digit runs as ``9``, letter runs as ``a``, the rest kept.

    Words separated by single spaces form one letter run (``"Jo Daviess"`` and ``"Cook"`` are
    both ``a``): how many words a name has is no form of its own.

    Kept characters are never ASCII digits or letters, so ``9`` and ``a`` are unambiguous.
    """
    out: list[str] = []
    last = ""
    for i, ch in enumerate(value):
        if _is_digit(ch):
            token = "9"
        elif _is_letter(ch):
            token = "a"
        elif ch == " " and last == "a" and i + 1 < len(value) and _is_letter(value[i + 1]):
            continue  # words separated by single spaces are one run: "New York" is "a"
        else:
            out.append(ch)
            last = ""
            continue
        if token != last:
            out.append(token)
        last = token
    return "".join(out)


def shape_counts(values: Iterable[str]) -> Counter[str]:
    """How many values have each shape."""
    return Counter(shape_of(v) for v in values)


def regex_safe(shape: str) -> bool:
    """False for shapes with control characters (line breaks: ``$`` differs between engines)."""
    return all(ord(ch) >= 32 and ch != "\x7f" for ch in shape)


def shape_regex(shapes: Iterable[str]) -> str:
    """An anchored regular expression matching exactly the values of the given shapes."""
    parts = sorted({_pattern(s) for s in shapes})
    if len(parts) == 1:
        return f"^{parts[0]}$"
    return "^(?:" + "|".join(parts) + ")$"  # non-capturing: pandas warns about groups


def _pattern(shape: str) -> str:
    out: list[str] = []
    for ch in shape:
        if ch == "9":
            out.append(_DIGITS)
        elif ch == "a":
            out.append(_LETTERS)
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
