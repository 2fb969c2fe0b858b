"""The API's parser refuses text PostgreSQL cannot store: where it looks, and what it lets through."""

import json

import pytest

from project.parser import _MAYBE_UNSTORABLE, unstorable_path


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("plain", None),
        ("é😀 ünïcode", None),
        ("a\x00b", ()),
        ({"a": ["ok", {"b": "\ud800"}]}, ("a", 1, "b")),
        ({"k\x00": 1}, ("k\x00",)),
        ([1, 2.5, None, True, "\udfff"], (4,)),
    ],
)
def test_the_path_of_the_first_unstorable_string_is_found(value, path):
    assert unstorable_path(value) == path


@pytest.mark.parametrize(
    ("body", "suspect"),
    [
        (json.dumps({"text": "ünïcode"}).encode(), False),  # escaped, but no NUL or surrogate
        (json.dumps({"text": "ünïcode 😀"}, ensure_ascii=False).encode(), False),
        (json.dumps({"text": "😀"}).encode(), True),  # an escaped pair: walked, and it passes
        (json.dumps({"text": "a\x00"}).encode(), True),
        (json.dumps({"text": "\ud800"}).encode(), True),
        (b'{"text": "\xed\xa0\x80"}', True),
    ],
)
def test_only_a_body_that_may_hold_unstorable_text_is_walked(body, suspect):
    assert bool(_MAYBE_UNSTORABLE.search(body)) is suspect


def test_an_escaped_surrogate_pair_is_one_character_and_passes():
    assert unstorable_path(json.loads(json.dumps({"text": "😀"}))) is None
