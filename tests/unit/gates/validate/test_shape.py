"""Value shapes: digit and letter runs collapsed, punctuation kept, one portable regex."""

from __future__ import annotations

import re

import pytest

from mlsec_gates.gates.validate.shape import regex_safe, shape_counts, shape_of, shape_regex


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("2019-03-07 10:15", "9-9-9 9:9"),
        ("US", "a"),
        ("Jo Daviess", "a"),
        ("free text 12", "a 9"),
        ("two  spaces", "a  a"),
        ("McDonald's", "a'a"),
        ("AB12cd", "a9a"),
        ("__never_seen__", "__a_a__"),
        ("3.14", "9.9"),
        ("Zürich", "aüa"),
        ("", ""),
    ],
)
def test_shape_of(value: str, shape: str) -> None:
    assert shape_of(value) == shape


def test_regex_matches_exactly_the_shapes_seen() -> None:
    seen = ["2019-03-07", "1999-12-31", "US", "FR"]
    regex = re.compile(shape_regex(shape_counts(seen)))
    for value in [*seen, "2030-01-01", "DE", "x", "New York"]:
        assert regex.search(value), value
    bad = ["2019/03/07", "__never_seen__", "12", "US ", " US", "A  B", "2019-03-07x", "a.b"]
    for value in bad:
        assert not regex.search(value), value


def test_special_characters_are_literal() -> None:
    regex = re.compile(shape_regex({shape_of("a.b (c)|d+"): 1}))
    assert regex.search("x.y (z)|w+")
    assert not regex.search("xzy (z)|w+")  # '.' is not "any character"
    assert not regex.search("x.y zz|w+")


def test_control_characters_are_not_regex_safe() -> None:
    assert regex_safe(shape_of("a b-c"))
    assert not regex_safe(shape_of("line\nbreak"))
    assert not regex_safe(shape_of("tab\there"))
