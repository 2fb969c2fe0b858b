"""The API's request parser: JSON bodies and query strings, minus the text that
PostgreSQL cannot store.

PostgreSQL's `text` and `jsonb` refuse U+0000, and UTF-8 has no lone surrogates
(JSON's `\\ud800` escape, or CESU-8 bytes, which Python's json decoder lets
through). Either one reached the database and came back as a 500. They are
refused here, for every endpoint at once, as a 400 naming the field.
"""

import json
import re

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from project.errors import BadRequest

# A NUL or a lone surrogate arrives in a body only as a `\u0000` or `\udXXX`
# escape, or as the bytes of an encoded surrogate (ED A0..BF): a body without
# any (most, non-ASCII text included) costs one scan and no walk.
_MAYBE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_path(value, path: tuple = ()) -> tuple | None:
    """The path of the first string (value or key) PostgreSQL cannot store, or None."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_path(key, (*path, key)) or unstorable_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_path(item, (*path, index))
            if found is not None:
                return found
    return None


def unstorable_text_error(path: tuple, location: str) -> BadRequest:
    field = ".".join(str(part) for part in path)
    return BadRequest("The request is not valid.", code="validation_error", details={"fields": [{
        "field": field, "location": location,
        "message": "Text may not contain U+0000 or unpaired surrogates.", "code": "unstorable_text",
    }]})


class CallboardParser(Parser):
    def parse_body(self, request: HttpRequest):
        data = json.loads(request.body)
        if _MAYBE_UNSTORABLE.search(request.body):
            path = unstorable_path(data)
            if path is not None:
                raise unstorable_text_error(path, "body")
        return data

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest):
        # Django decodes a query's bad UTF-8 as U+FFFD, so only a NUL (%00) gets here.
        parsed = super().parse_querydict(data, list_fields, request)
        for key, value in parsed.items():
            path = unstorable_path(value, (key,))
            if path is not None:
                raise unstorable_text_error(path, "query")
        return parsed
