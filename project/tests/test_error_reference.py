"""docs/reference/errors.md lists every error code the code can answer with.

The codes are read from the source, not from a list kept by hand: `code=` given
to an `ApiError` (or anything else), the code of `error_response(status, code)`,
the class-level codes of `ApiError` subclasses, the defaults per status, and the
runtime ingest's per-item errors. A code raised anywhere and missing from the
page fails here, naming the file that raises it.
"""

import ast
import re
from pathlib import Path

from django.conf import settings

from project.errors import DEFAULT_CODES

ROOT = Path(settings.BASE_DIR)
REFERENCE = ROOT / "docs" / "reference" / "errors.md"
SKIPPED_DIRS = {".venv", "venv", "node_modules", "bench", "tests", "migrations", ".git", "static"}
# Callables whose positional argument at this index is an error code.
CODE_ARGUMENT = {"error_response": 1, "error_body": 1, "ItemError": 0, "_error": 2, "_too_many": 0}


def source_files():
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def _callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else ""


def _string(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code" and _string(keyword.value):
                    yield keyword.value.value
            at = CODE_ARGUMENT.get(_callee(node))
            if at is not None and len(node.args) > at and _string(node.args[at]):
                yield node.args[at].value
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    yield from _class_codes(statement)


def _class_codes(statement: ast.Assign):
    """`code = "..."` and `status, code, message = 401, "...", "..."` in a class body."""
    for target in statement.targets:
        if isinstance(target, ast.Name) and target.id == "code" and _string(statement.value):
            yield statement.value.value
        if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
            for name, value in zip(target.elts, statement.value.elts, strict=False):
                if isinstance(name, ast.Name) and name.id == "code" and _string(value):
                    yield value.value


def raised_codes() -> dict[str, str]:
    """code -> the first file that can answer with it."""
    found = {code: "project/errors.py (DEFAULT_CODES)" for code in DEFAULT_CODES.values()}
    for path in source_files():
        for code in codes_in(ast.parse(path.read_text(), filename=str(path))):
            found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def documented_codes() -> set[str]:
    # A code is documented when it is the first cell of a table row, or a code cell
    # in the first two cells (the "status | code" tables).
    codes = set()
    for line in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1:
            for cell in cells[:2]:
                codes.update(re.findall(r"`([a-z][a-z0-9_]*)`", cell))
    return codes


def test_every_error_code_the_code_raises_is_in_the_error_reference():
    # given
    raised = raised_codes()

    # when
    missing = {code: where for code, where in raised.items() if code not in documented_codes()}

    # then
    assert not missing, (
        "error codes raised in the code but missing from docs/reference/errors.md "
        f"(add a row: code, status, meaning): {missing}"
    )


def test_the_scan_finds_codes_of_every_kind_of_raise_site():
    # given: one of each way the code names an error code
    source = '''
raise Forbidden("no", code="kw_code")
error_response(400, "response_code", "message")
result.errors.append(_error(index, event_id, "item_code", "message"))
raise ItemError("item_error_code", "message")
class Gone(ApiError):
    status, code, message = 410, "class_code", "Gone."
'''

    # when
    found = set(codes_in(ast.parse(source)))

    # then
    assert found == {"kw_code", "response_code", "item_code", "item_error_code", "class_code"}


def test_the_reference_names_every_default_code_and_only_snake_case_codes():
    # given
    text = REFERENCE.read_text()

    # then
    assert documented_codes() >= set(DEFAULT_CODES.values())
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", code) for code in documented_codes())
    assert "SPEC" not in text
