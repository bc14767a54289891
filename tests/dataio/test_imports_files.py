"""Malformed import files: refused whole, or reported row by row; never a crash, never a
silent partial import."""

from __future__ import annotations

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.dataio.imports import reader
from dealflow.dataio.imports.reader import MAX_LINE_CHARACTERS
from dealflow.dataio.models import ImportJob
from dealflow.dataio.services import import_start
from dealflow.leads.models import Lead
from tests.dataio.test_imports import LEAD_HEADER, admin, counts, lead_rows, report, run, write_csv

__all__ = ["admin"]
pytestmark = pytest.mark.django_db


def refusal(admin, path) -> DomainError:
    with pytest.raises(DomainError) as caught:
        import_start(actor=admin, target="leads", path=path)
    assert ImportJob.objects.count() == 0
    assert Lead.objects.count() == 0
    return caught.value


def test_a_file_that_is_not_utf8_is_refused_naming_the_byte_and_line(admin, tmp_path):
    path = tmp_path / "latin1.csv"
    good = b"LastName,Company\nLee,Acme\n"
    path.write_bytes(good + "Müller,Bäckerei\n".encode("latin-1"))

    error = refusal(admin, path)

    assert error.message == (
        "the file is not UTF-8: byte 27 (line 3) is 0xfc; save it as UTF-8 (CSV UTF-8) "
        "and import it again. Nothing was imported."
    )


def test_a_bad_byte_after_the_first_megabyte_refuses_the_whole_file(admin, tmp_path):
    path = tmp_path / "late.csv"
    rows = "".join(f"Lee{n},Acme {n}\n" for n in range(100_000))
    path.write_bytes(f"LastName,Company\n{rows}".encode() + b"Bad,\xff\n")

    error = refusal(admin, path)

    assert "(line 100002) is 0xff" in error.message


def test_a_byte_order_mark_is_not_part_of_the_first_header(admin, tmp_path):
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)], bom=True)

    job = run(admin, "leads", path)

    assert counts(job) == (2, 2, 0, 0, 0)
    assert sorted(Lead.objects.values_list("first_name", flat=True)) == ["Ann0", "Ann1"]
    assert report(job) == []


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_sniffed(admin, tmp_path, delimiter):
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)], delimiter=delimiter)

    job = run(admin, "leads", path)

    assert counts(job) == (2, 2, 0, 0, 0)


def test_ragged_rows_are_reported_row_by_row_and_the_rest_imported(admin, tmp_path):
    rows = lead_rows(4)
    rows[1] = rows[1][:3]  # too few values
    rows[2] = [*rows[2], "extra"]  # too many
    path = write_csv(tmp_path, [LEAD_HEADER, *rows])

    job = run(admin, "leads", path)

    assert counts(job) == (4, 2, 0, 0, 2)
    assert report(job) == [
        (2, "", "the row has 3 values but the header has 5 columns; nothing of it was imported"),
        (3, "", "the row has 6 values but the header has 5 columns; nothing of it was imported"),
    ]
    assert sorted(Lead.objects.values_list("first_name", flat=True)) == ["Ann0", "Ann3"]


def test_unknown_headers_are_reported_and_ignored(admin, tmp_path):
    path = write_csv(
        tmp_path, [["Last Name", "Shoe Size", "company", "IsConverted"], ["Lee", "44", "Acme", "1"]]
    )

    job = run(admin, "leads", path)

    assert counts(job) == (1, 1, 0, 0, 0)
    assert report(job) == [
        (0, "Shoe Size", "column 'Shoe Size' matches no Lead field; ignored"),
        (0, "IsConverted", "column 'IsConverted' is a field nobody sets; ignored"),
    ]
    lead = Lead.objects.get()
    assert (lead.last_name, lead.company, lead.is_converted) == ("Lee", "Acme", False)


def test_a_five_megabyte_line_is_reported_and_skipped(admin, tmp_path):
    path = tmp_path / "long.csv"
    long_line = "Lee," + "x" * (5 * 1024 * 1024) + "\n"
    path.write_text("LastName,Company\nAnn,Acme\n" + long_line + "Bo,Beta\n", encoding="utf-8")

    job = run(admin, "leads", path)

    assert counts(job) == (3, 2, 0, 0, 1)
    assert report(job) == [
        (2, "", f"line 3 is longer than {MAX_LINE_CHARACTERS} characters; skipped"),
    ]
    assert sorted(Lead.objects.values_list("last_name", flat=True)) == ["Ann", "Bo"]


def test_an_unclosed_quote_is_reported_not_read_to_the_end(admin, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_CHARACTERS", 1000)
    path = tmp_path / "quote.csv"
    body = "LastName,Company\nAnn,Acme\n" + 'Lee,"never closed\n' + "x,y\n" * 400
    path.write_text(body, encoding="utf-8")

    job = run(admin, "leads", path)

    # The quoted field ends the row once it passes the limit (at line 250, four
    # characters a line); reading goes on at the next line, as the csv module does.
    assert counts(job) == (155, 154, 0, 0, 1)
    assert report(job) == [
        (2, "", "line 250: cannot be read as CSV (field larger than field limit (1000))")
    ]
    assert Lead.objects.filter(last_name="x", company="y").count() == 153


def test_an_empty_file_is_refused(admin, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    assert refusal(admin, path).message == "the file is empty: expected a header row and data rows"


def test_a_file_of_blank_lines_has_no_header(admin, tmp_path):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\r\n\r\n")

    assert refusal(admin, path).message == "the file has no header row (only blank lines)"


def test_a_header_only_file_is_refused(admin, tmp_path):
    path = write_csv(tmp_path, [LEAD_HEADER])

    assert refusal(admin, path).message == "the file has a header row but no data rows"


def test_a_missing_required_column_is_refused(admin, tmp_path):
    path = write_csv(tmp_path, [["FirstName", "Company"], ["Ann", "Acme"]])

    error = refusal(admin, path)

    assert error.code == ErrorCode.REQUIRED_FIELD_MISSING
    assert error.message == "the file has no column for the required field(s) last_name"


def test_two_columns_for_one_field_are_refused(admin, tmp_path):
    path = write_csv(tmp_path, [["LastName", "last_name", "Company"], ["Lee", "Lee", "Acme"]])

    assert refusal(admin, path).message == (
        "columns 'LastName' and 'last_name' are both last_name; keep one"
    )
