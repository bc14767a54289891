"""Reading an import file: checks of the whole file, dialect, header mapping, rows.

The file is read twice, both times streaming: a first pass hashes it and refuses it
whole when it is not UTF-8 (naming the byte offset and line), so that no import ever
stops half-way on an encoding error; the second pass yields its rows. Memory stays
bounded: a line is read at most MAX_LINE_CHARACTERS at a time, and a longer one is
reported as a failed row and skipped, never held whole.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import FieldDef, ObjectDef

CHUNK_BYTES = 1 << 20
SAMPLE_CHARACTERS = 64 * 1024
# The longest line (and field) read: Description holds 32,000 characters; a line of
# 40 fields at their longest stays well under this.
MAX_LINE_CHARACTERS = 1 << 20
DELIMITERS = ",;\t|"
# Columns read by the import itself rather than written as a field.
EXTERNAL_ID = "__external_id__"  # the record's id in the system the file came from
OWNER = "owner"
_NOT_LETTER_OR_DIGIT = re.compile(r"[^0-9a-z]")
TRUE_TEXTS = {"true", "1", "yes", "y", "t", "x"}
FALSE_TEXTS = {"false", "0", "no", "n", "f", ""}


def file_error(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_FIELD, message, ["file"])


@dataclass(frozen=True)
class FileFacts:
    size: int
    sha256: str
    has_bom: bool


def inspect_file(path: Path) -> FileFacts:
    """Size and SHA-256 of the file; refuses an empty file and one that is not UTF-8.

    The refusal names the byte offset and line of the first byte that is not UTF-8.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    lines_before = 0
    first = b""
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            if not first:
                first = chunk[:3]
            digest.update(chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                offset = size + error.start
                line = lines_before + chunk.count(b"\n", 0, error.start) + 1
                raise file_error(
                    f"the file is not UTF-8: byte {offset} (line {line}) is "
                    f"0x{chunk[error.start]:02x}; save it as UTF-8 (CSV UTF-8) and import "
                    "it again. Nothing was imported."
                ) from None
            lines_before += chunk.count(b"\n")
            size += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise file_error(
                f"the file is not UTF-8: it ends inside a character (byte {size}); "
                "nothing was imported"
            ) from None
    if size == 0:
        raise file_error("the file is empty: expected a header row and data rows")
    return FileFacts(size=size, sha256=digest.hexdigest(), has_bom=first == codecs.BOM_UTF8)


class LineReader:
    """The lines of a text stream for csv.reader, none longer than MAX_LINE_CHARACTERS.

    A longer line is skipped (read and dropped in pieces) and replaced by an empty
    line; its number is kept in `overlong` so the caller reports the row.
    """

    def __init__(self, stream, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.line_number = 0
        self.overlong: list[int] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit)
        if not line:
            raise StopIteration
        self.line_number += 1
        if len(line) < self.limit or line.endswith("\n"):
            return line
        length = len(line)
        while line and not line.endswith("\n"):
            line = self.stream.readline(self.limit)
            length += len(line)
        self.overlong.append(self.line_number)
        return "\n"


def sniff_dialect(path: Path) -> type[csv.Dialect] | csv.Dialect:
    """The file's delimiter and quoting, read from its beginning (Excel's when unsure)."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        sample = stream.read(SAMPLE_CHARACTERS)
    # Only whole lines: a cut line can mislead the sniffer.
    if len(sample) == SAMPLE_CHARACTERS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel
    dialect.doublequote = True  # Sniffer guesses this badly on small samples
    if dialect.delimiter not in DELIMITERS:
        return csv.excel
    return dialect


@dataclass
class Row:
    """One data row: its number (1 = the first after the header) and its values, or the
    reason it could not be read."""

    number: int
    values: list[str] = field(default_factory=list)
    problem: str = ""


@contextmanager
def open_rows(path: Path, dialect, skip: int = 0) -> Iterator[tuple[list[str], Iterator[Row]]]:
    """(header, rows), rows after the first `skip` data rows; the file closes on exit.

    Blank lines are not rows. A line too long to read, or text the csv module cannot
    parse, is a Row with a `problem`.
    """
    csv.field_size_limit(MAX_LINE_CHARACTERS)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        lines = LineReader(stream, MAX_LINE_CHARACTERS)
        reader = csv.reader(lines, dialect)
        header: list[str] | None = None
        while header is None:
            try:
                record = next(reader)
            except StopIteration:
                raise file_error("the file has no header row (only blank lines)") from None
            except csv.Error as error:
                raise file_error(f"the header row cannot be read: {error}") from None
            if lines.overlong:
                raise file_error(
                    f"the header row (line {lines.overlong[0]}) is longer than "
                    f"{MAX_LINE_CHARACTERS} characters"
                )
            if any(value.strip() for value in record):
                header = record
        yield header, _rows(reader, lines, skip)


def _rows(reader, lines: LineReader, skip: int) -> Iterator[Row]:
    number = 0
    while True:
        try:
            record = next(reader)
            problem = ""
        except StopIteration:
            return
        except csv.Error as error:
            record, problem = [], f"line {lines.line_number}: cannot be read as CSV ({error})"
        if lines.overlong:
            line = lines.overlong.pop()
            problem = f"line {line} is longer than {MAX_LINE_CHARACTERS} characters; skipped"
            record = []
        if not problem and not any(value.strip() for value in record):
            continue
        number += 1
        if number <= skip:
            continue
        yield Row(number=number, values=record, problem=problem)


def header_key(text: str) -> str:
    """A header compared case-insensitively, ignoring spaces and punctuation
    ("Last Name", "last_name", "LastName" and Data Loader's "LASTNAME" are one)."""
    return _NOT_LETTER_OR_DIGIT.sub("", text.casefold())


def header_aliases(object_def: ObjectDef) -> dict[str, str]:
    """Every accepted spelling of every column (header_key) -> native field name.

    From the metadata registry: native name, public name, Salesforce API name (which
    Data Loader writes upper-cased) and label. `Id` is the record's external id.
    """
    aliases: dict[str, str] = {}
    for field_def in object_def.fields:
        if field_def.name in ("id", "created_at", "updated_at"):
            continue
        for spelling in (
            field_def.label,
            field_def.name,
            field_def.public_name,
            field_def.api_name,
        ):
            aliases.setdefault(header_key(spelling), field_def.name)
        if field_def.type == "reference" and field_def.api_name.endswith("Id"):
            aliases.setdefault(header_key(field_def.api_name[:-2]), field_def.name)
    aliases[header_key("Id")] = EXTERNAL_ID
    aliases[header_key(f"{object_def.name} ID")] = EXTERNAL_ID
    return aliases


@dataclass
class HeaderMapping:
    """Column index -> native field name, and what the header could not use."""

    columns: dict[int, str]
    mapping: dict[str, str]  # header text -> native name ("" for an ignored column)
    unknown: list[str]
    not_writable: list[str]


def map_header(
    object_def: ObjectDef, header: list[str], saved: dict[str, str] | None = None
) -> HeaderMapping:
    """Match each header to a field: a saved mapping first, then the registry's names.

    Refuses a header naming one field twice and one missing a required field's column;
    unknown headers and fields nobody may set are returned (reported, then ignored).
    """
    aliases = header_aliases(object_def)
    saved_keys = {header_key(name): target for name, target in (saved or {}).items()}
    columns: dict[int, str] = {}
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    not_writable: list[str] = []
    seen: dict[str, str] = {}
    for index, text in enumerate(header):
        key = header_key(text)
        name = saved_keys[key] if key in saved_keys else aliases.get(key)
        if not name:
            mapping[text] = ""
            if text.strip() and key not in saved_keys:
                unknown.append(text)
            continue
        field_def: FieldDef | None = object_def.field(name)
        if name != EXTERNAL_ID and field_def is None:
            raise file_error(f"the mapping names {name!r}, which {object_def.name} does not have")
        if field_def is not None and not field_def.createable:
            not_writable.append(text)
            mapping[text] = ""
            continue
        if name in seen:
            raise file_error(f"columns {seen[name]!r} and {text!r} are both {name}; keep one")
        seen[name] = text
        columns[index] = name
        mapping[text] = name
    missing = [
        field_def.public_name
        for field_def in object_def.fields
        if field_def.required and field_def.name not in seen
    ]
    if missing:
        raise DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING,
            f"the file has no column for the required field(s) {', '.join(missing)}",
            missing,
        )
    return HeaderMapping(columns, mapping, unknown, not_writable)


def boolean_text(field_def: FieldDef, text: str) -> bool:
    """A checkbox from CSV text (true/false, 1/0, yes/no; blank is false)."""
    folded = text.strip().casefold()
    if folded in TRUE_TEXTS:
        return True
    if folded in FALSE_TEXTS:
        return False
    raise DomainError(
        ErrorCode.INVALID_TYPE,
        f"{field_def.public_name}: expected true or false, got {text!r}",
        [field_def.public_name],
    )
