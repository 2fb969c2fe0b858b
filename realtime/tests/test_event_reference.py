"""docs/reference/events.md is generated from the event catalogue; the committed copy
must be what the code produces, so the documented events cannot drift from the real ones."""

import difflib

import pytest
from django.conf import settings

from realtime import catalogue
from realtime.management.commands.export_api_docs import rendered_reference
from realtime.reference import events_markdown


def test_committed_event_reference_matches_the_catalogue():
    # given
    committed_path = settings.BASE_DIR / "docs" / "reference" / "events.md"
    committed = committed_path.read_text() if committed_path.exists() else ""

    # when
    rendered = rendered_reference()["events.md"]

    # then
    if rendered != committed:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(keepends=True), rendered.splitlines(keepends=True),
            fromfile="docs/reference/events.md (committed)",
            tofile="docs/reference/events.md (from the code)",
        ))[:60])
        pytest.fail("docs/reference/events.md is out of date with the catalogue. Run "
                    f"`python manage.py export_api_docs` and commit the result.\n{diff}", pytrace=False)


def test_event_reference_has_a_section_with_every_field_of_every_type():
    # given
    page = events_markdown()

    # then
    for event_type in catalogue.all_types():
        section = page.split(f"\n### {event_type.name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"Audience: {event_type.audience.value}" in section
        for field in event_type.data_model.model_fields:
            assert f"| `{field}` |" in section, f"{event_type.name}.{field} is not documented"


def test_event_reference_says_which_types_are_ephemeral():
    # given
    page = events_markdown()

    # then
    assert "| [`call-interim`](#call-interim) | no (live only) |" in page
    assert "| [`call-transcript`](#call-transcript) | yes |" in page
