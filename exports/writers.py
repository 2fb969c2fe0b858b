"""Writers of an export's file, one per format (docs/exports.md "Formats").

Each takes rows as tuples of database values in the kind's column order and
writes UTF-8 bytes to a binary file, a batch at a time: nothing but the batch in
hand is held in memory.
"""

import csv
import io
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO

from exports.kinds import Kind, json_text
from project.timestamps import iso_utc


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)


# A cell a spreadsheet (Excel, LibreOffice, Sheets) would open as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _csv_text(value: Any) -> str:
    """A cell's text; a text value that starts like a formula (`=`, `+`, `-`, `@`, a
    tab, a carriage return) is prefixed with `'`, so a spreadsheet shows it as text
    instead of running it (CSV injection). A plain number such as a phone number
    `+14155550100` cannot run anything and is kept as it is."""
    text = _text(value)
    if isinstance(value, str) and text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)  # money travels as decimal strings, as in the REST API
    return value


class CsvWriter:
    """RFC 4180 CSV: a header row of the column names, then one line per row;
    JSON columns hold their compact JSON text; an empty cell is null; text that
    would open as a formula in a spreadsheet is neutralised (`_csv_text`)."""

    def __init__(self, out: BinaryIO, kind: Kind):
        self.out, self.kind = out, kind
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, lineterminator="\r\n")

    def header(self) -> None:
        self.csv.writerow(self.kind.columns)
        self._flush()

    def rows(self, rows: list[tuple]) -> None:
        json_at = [at for at, column in enumerate(self.kind.columns) if column in self.kind.json_columns]
        for row in rows:
            cells = [_csv_text(value) for value in row]
            for index in json_at:
                cells[index] = json_text(row[index]) if row[index] is not None else ""
            self.csv.writerow(cells)
        self._flush()

    def _flush(self) -> None:
        self.out.write(self.buffer.getvalue().encode())
        self.buffer.seek(0)
        self.buffer.truncate()


class JsonlWriter:
    """JSON Lines: one object per row with the kind's columns as keys; JSON
    columns hold objects, money decimal strings, times ISO 8601 in UTC."""

    def __init__(self, out: BinaryIO, kind: Kind):
        self.out, self.kind = out, kind

    def header(self) -> None:
        pass

    def rows(self, rows: list[tuple]) -> None:
        columns, json_columns = self.kind.columns, self.kind.json_columns
        lines = []
        for row in rows:
            item = {}
            for column, value in zip(columns, row, strict=True):
                if column in json_columns and isinstance(value, str):
                    value = json.loads(value)
                item[column] = _json_value(value)
            lines.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
        if lines:
            self.out.write(("\n".join(lines) + "\n").encode())


WRITERS = {"csv": CsvWriter, "jsonl": JsonlWriter}
