"""Reading a contacts upload, CSV or JSON, as a stream of records (docs/campaigns.md
"Contacts and uploads").

A reader takes a binary file and yields one `Record` per data row, in order, never
holding more than a line (CSV) or one contact (JSON) in memory, so that a
100,000-row file costs what a 1,000-row one does. What makes the whole file
unusable (its encoding, its header, a ragged row, too many rows) is raised as an
ApiError naming the row; what is wrong with one row (its number, its variables) is
left to the caller, which reports it and keeps the other rows.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from project.errors import ApiError, BadRequest

# The contract's bound on one upload (docs/reference/rest.md#contacts).
MAX_ROWS = 100_000
MAX_COLUMNS = 100
MAX_COLUMN_NAME_CHARS = 100
# A physical line of CSV, and one contact of a JSON upload: far above what a row
# may hold once read (its variables take at most CALLS_MAX_VARIABLES_BYTES), low
# enough that no single row can take the server's memory.
MAX_LINE_CHARS = 256 * 1024
MAX_ITEM_CHARS = 256 * 1024
CHUNK_BYTES = 64 * 1024
PHONE_COLUMN = "phone_number"


class TooManyRows(ApiError):
    status, code = 413, "too_many_rows"


@dataclass(frozen=True, slots=True)
class Record:
    row: int  # 1 = the first data row
    phone_number: Any
    variables: Any
    # A JSON item that is not {"phone_number", "variables"}: why, for the row's error.
    problem: str = ""


def _refuse(message: str, *, code: str, **details) -> BadRequest:
    return BadRequest(message, code=code, details=details)


def _too_many_rows() -> TooManyRows:
    return TooManyRows(f"An upload holds at most {MAX_ROWS:,} rows; split the file.",
                       details={"max_rows": MAX_ROWS})


class _Raw(io.RawIOBase):
    """Any object with `read(n)` (a Django request, an UploadedFile, a file) as a raw
    binary stream, so io's buffered reader and text decoder can sit on it."""

    def __init__(self, source):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def text_of(source) -> io.TextIOWrapper:
    """The source decoded as UTF-8 (a leading byte-order mark dropped), line endings
    left to the CSV reader. A byte that is not UTF-8 arrives as a lone surrogate
    (U+DC80..U+DCFF) where it stood, so the line that holds it can be named: the
    decoder works a chunk ahead of the lines read."""
    buffered = io.BufferedReader(_Raw(source), buffer_size=CHUNK_BYTES)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape", newline="")


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def copy_body(source, target: BinaryIO) -> None:
    """Copies a request body into `target` (a spooled temporary file) a chunk at a
    time, so the upload can be read twice: once to check it, once to store it."""
    while chunk := source.read(CHUNK_BYTES):
        target.write(chunk)
    target.seek(0)


# --- CSV ---------------------------------------------------------------------------------------


class _CsvDialect(csv.excel):
    # A quote that does not close, or text after a closing quote, is an error rather
    # than a guess at what the file meant.
    strict = True


def _lines(text: io.TextIOWrapper, position: list[int]) -> Iterator[str]:
    """The physical lines of the text, each at most MAX_LINE_CHARS; `position[0]` is
    the number of the current line (1-based), for messages."""
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        position[0] += 1
        if _NOT_UTF8.search(line):
            raise _refuse(f"The file is not UTF-8 text (line {position[0]}).", code="invalid_encoding",
                          line=position[0])
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _refuse(f"Line {position[0]} is longer than {MAX_LINE_CHARS:,} characters.",
                          code="csv_line_too_long", line=position[0], max_chars=MAX_LINE_CHARS)
        yield line


def _header(reader, position: list[int]) -> list[str]:
    first = _next_record(reader, position, row=0)
    while first is not None and not first:  # blank lines before the header
        first = _next_record(reader, position, row=0)
    columns = [cell.strip() for cell in first or []]
    if PHONE_COLUMN not in columns:
        raise _refuse(f"The first line must be a header row naming the columns, {PHONE_COLUMN!r} among them.",
                      code="csv_missing_phone_number", columns=columns[:MAX_COLUMNS])
    if len(columns) > MAX_COLUMNS:
        raise _refuse(f"A file has at most {MAX_COLUMNS} columns; this one has {len(columns)}.",
                      code="csv_too_many_columns", max_columns=MAX_COLUMNS, columns=len(columns))
    seen = set()
    for index, name in enumerate(columns, start=1):
        reason = ("is empty" if not name else "is too long" if len(name) > MAX_COLUMN_NAME_CHARS
                  else "contains a NUL character" if "\x00" in name
                  else "appears twice" if name in seen else "")
        if reason:
            raise _refuse(f"Header column {index} {reason}.", code="csv_invalid_column",
                          column=index, name=name[:MAX_COLUMN_NAME_CHARS])
        seen.add(name)
    return columns


def _next_record(reader, position: list[int], *, row: int) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise _refuse(f"Row {row} has a cell longer than {csv.field_size_limit():,} characters.",
                          code="csv_field_too_large", row=row) from None
        raise _refuse(f"Row {row} (line {position[0]}) is not valid CSV: {error}.", code="invalid_csv",
                      row=row, line=position[0]) from None


def csv_records(source) -> Iterator[Record]:
    """The rows of a CSV upload. The header row must name `phone_number`; every other
    column becomes a string variable, an empty cell none. A row of nothing but empty
    cells (a blank line, a spreadsheet's ",,,") is skipped and not numbered; a row with
    more or fewer cells than the header refuses the file."""
    position = [0]
    reader = csv.reader(_lines(text_of(source), position), dialect=_CsvDialect)
    columns = _header(reader, position)
    phone_at = columns.index(PHONE_COLUMN)
    others = [(index, name) for index, name in enumerate(columns) if index != phone_at]
    row = 0
    while (cells := _next_record(reader, position, row=row + 1)) is not None:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a spreadsheet's row of empty cells
        row += 1
        if row > MAX_ROWS:
            raise _too_many_rows()
        if len(cells) != len(columns):
            raise _refuse(f"Row {row} (line {position[0]}) has {len(cells)} cells; the header has "
                          f"{len(columns)}.", code="csv_ragged_row", row=row, line=position[0],
                          cells=len(cells), columns=len(columns))
        yield Record(row, cells[phone_at], {name: cells[index] for index, name in others if cells[index]})


# --- JSON --------------------------------------------------------------------------------------

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


class _JsonStream:
    """A JSON text read a chunk at a time, decoded one value at a time."""

    def __init__(self, source):
        self._text = text_of(source)
        self._buffer, self._at, self._ended = "", 0, False

    def _fill(self) -> bool:
        if self._ended:
            return False
        chunk = self._text.read(CHUNK_BYTES)
        if _NOT_UTF8.search(chunk):
            raise _refuse("The body is not UTF-8 text.", code="invalid_encoding")
        if not chunk:
            self._ended = True
            return False
        self._buffer = self._buffer[self._at:] + chunk
        self._at = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            while self._at < len(self._buffer) and self._buffer[self._at] in _WHITESPACE:
                self._at += 1
            if self._at < len(self._buffer) or not self._fill():
                return self._buffer[self._at:self._at + 1]

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise self.invalid(f"expected {what}")
        self._at += 1

    def value(self, row: int) -> Any:
        """The next JSON value. A value that ends where the buffer does may go on (a
        number) or be cut short: more is read before it counts."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._at)
            except json.JSONDecodeError:
                value, end = None, None
            if (end or len(self._buffer)) - self._at > MAX_ITEM_CHARS:
                raise _refuse(f"Contact {row} is longer than {MAX_ITEM_CHARS:,} characters of JSON.",
                              code="contact_too_large", row=row, max_chars=MAX_ITEM_CHARS)
            if end is not None and (end < len(self._buffer) or self._ended):
                self._at = end
                return value
            if not self._fill():
                if end is not None:
                    self._at = end
                    return value
                raise self.invalid(f"contact {row} is not valid JSON or is cut short" if row
                                   else "a value is not valid JSON or is cut short")

    def invalid(self, problem: str) -> BadRequest:
        return _refuse(f"The body is not the JSON expected: {problem}.", code="invalid_json")


def _contacts_key(stream: _JsonStream) -> None:
    stream.expect("{", 'an object, {"contacts": [...]}')
    key = stream.value(row=0) if stream.peek() == '"' else None
    if key != "contacts":
        raise BadRequest("The request is not valid.", code="validation_error", details={"fields": [{
            "field": "contacts", "location": "body", "code": "missing",
            "message": 'The body must be {"contacts": [...]}, with no other member.'}]})
    stream.expect(":", "':' after \"contacts\"")
    stream.expect("[", "a list of contacts")


def json_records(source) -> Iterator[Record]:
    """The contacts of a JSON upload, `{"contacts": [{"phone_number", "variables"}]}`."""
    stream = _JsonStream(source)
    _contacts_key(stream)
    row = 0
    if stream.peek() == "]":
        stream.expect("]", "]")
    else:
        while True:
            row += 1
            if row > MAX_ROWS:
                raise _too_many_rows()
            yield _json_record(row, stream.value(row))
            if stream.peek() == "]":
                stream.expect("]", "]")
                break
            stream.expect(",", "',' or ']' after a contact")
    stream.expect("}", '"}" closing the body (only "contacts" is taken)')
    if stream.peek():
        raise stream.invalid("text after the end of the body")


def _json_record(row: int, item: Any) -> Record:
    if not isinstance(item, dict):
        return Record(row, None, None, problem="A contact must be an object with phone_number and variables.")
    unknown = sorted(set(item) - {"phone_number", "variables"})
    if unknown:
        return Record(row, item.get("phone_number"), None,
                      problem=f"Unknown member(s) {', '.join(map(repr, unknown))[:200]}: a contact has "
                      "phone_number and variables.")
    return Record(row, item.get("phone_number"), item.get("variables"))


def records(source, *, kind: str) -> Iterator[Record]:
    readers = {"csv": csv_records, "json": json_records}
    return readers[kind](source)


def check_structure(source, *, kind: str) -> int:
    """Reads the whole upload once, raising what would refuse it; the number of rows."""
    rows = 0
    for rows, _record in enumerate(records(source, kind=kind), start=1):  # noqa: B007
        pass
    return rows
