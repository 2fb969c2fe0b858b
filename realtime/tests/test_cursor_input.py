"""A resume cursor is ASCII decimal digits and nothing else. `str.isdigit()` also
holds for '²', '١٢' (Arabic-Indic) or fullwidth digits: those reached `int()`
and a 500, or would have resumed from a position the client never saw."""

import pytest

from project.errors import BadRequest
from realtime.streams import parse_cursor
from realtime.tests.streaming import STREAM_PATH, TICKET_STREAM_PATH, ticket_for

# Escaped where the glyph looks like an ASCII digit: fullwidth 12, double-struck 1.
NOT_ASCII_DIGITS = ["²", "١٢", "\uff11\uff12", "\U0001d7d9", "7²"]


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_digits_that_are_not_ascii_are_not_a_cursor(text):
    with pytest.raises(BadRequest) as refused:
        parse_cursor(text)

    assert refused.value.code == "invalid_cursor"


@pytest.mark.parametrize(("text", "cursor"), [(None, None), ("", None), ("0", 0), ("42", 42)])
def test_ascii_digits_are_a_cursor(text, cursor):
    assert parse_cursor(text) == cursor


@pytest.mark.django_db
@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_the_documented_stream_views_answer_a_bad_cursor_with_a_400(read_key, text):
    # when the cursor arrives as the header, the query parameter, and on the ticket stream
    answers = [
        read_key.get(STREAM_PATH, headers={"HTTP_LAST_EVENT_ID": text}),
        read_key.get(STREAM_PATH, {"last_event_id": text}),
        read_key.client.get(TICKET_STREAM_PATH, {"ticket": ticket_for(read_key), "last_event_id": text}),
    ]

    # then each is the one error shape, not a 500
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_cursor"
