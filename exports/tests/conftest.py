"""Fixtures of the exports tests: a storage of the test's own, rows to export."""

import pytest


@pytest.fixture
def export_dir(tmp_path, settings):
    """The `exports` storage: a directory of this test's own."""
    directory = tmp_path / "exports"
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(directory)}}}
    return directory
