"""The suite collects every app's tests: an app whose folder holds tests/ but is
missing from pytest's testpaths would pass CI without running a single one of them."""

import tomllib
from pathlib import Path

from django.conf import settings


def test_every_folder_with_tests_is_in_testpaths():
    root = Path(settings.BASE_DIR)
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    testpaths = set(options["testpaths"])
    with_tests = {path.parent.name for path in root.glob("*/tests") if any(path.glob("test_*.py"))}
    assert with_tests - testpaths == set()
