"""Writes the OpenAPI and AsyncAPI documents to docs/api/, where a snapshot test
compares them with what the code produces: a change to the API shows in review."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from project.api import api
from realtime.docs import asyncapi_document
from realtime.reference import events_markdown

DOCS_DIR = Path(settings.BASE_DIR) / "docs" / "api"
REFERENCE_DIR = Path(settings.BASE_DIR) / "docs" / "reference"


def rendered_documents() -> dict[str, str]:
    openapi = api.get_openapi_schema(path_prefix="/api/v1/")
    return {
        "openapi.json": json.dumps(openapi, indent=2, sort_keys=True) + "\n",
        "asyncapi.json": json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n",
    }


def rendered_reference() -> dict[str, str]:
    """The generated pages of docs/reference/ (the others there are written by hand)."""
    return {"events.md": events_markdown()}


class Command(BaseCommand):
    help = "Writes docs/api/openapi.json, docs/api/asyncapi.json and docs/reference/events.md from the code."

    def handle(self, *args, **options):
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in rendered_documents().items():
            (DOCS_DIR / name).write_text(text)
            self.stdout.write(f"wrote docs/api/{name}")
        REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in rendered_reference().items():
            (REFERENCE_DIR / name).write_text(text)
            self.stdout.write(f"wrote docs/reference/{name}")
