"""Tables as CSV downloads: UTF-8 with a BOM (Excel then opens the Chinese as Chinese),
streamed row by row, named after what they hold (the table, the period and the filters).

The file name is Chinese, so Content-Disposition carries it twice (RFC 6266): an ASCII
``filename=`` for old clients and ``filename*=UTF-8''…`` (RFC 5987) with the real name.
A cell starting with ``= + - @`` (a formula to a spreadsheet) gets a leading apostrophe: an item
name or a recorded reason is text typed by people, and must not run when the file is opened.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from flask import Response, stream_with_context

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_cell(value: object) -> str | int | float:
    """A value as it goes into a cell; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The BOM and header first, then one encoded line per row, as they are produced."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([safe_cell(h) for h in header])
    yield BOM + take()
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        yield take()


def download_name(parts: Sequence[str]) -> str:
    """``统计-跑动次数-2026-01-01至2026-01-31-市公安局.csv``: the parts joined, nothing a file
    system or a header refuses."""
    cleaned = [re.sub(r"\s+", "", UNSAFE_IN_NAME.sub("_", p)) for p in parts if p and p.strip()]
    return "-".join(cleaned)[:150] + ".csv"


def content_disposition(filename: str, fallback: str) -> str:
    """``fallback``: an ASCII name for clients that do not read ``filename*``."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback).strip("_.") or "statistics.csv"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_response(
    filename: str, fallback: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """A streamed CSV download. ``rows`` may be a generator that reads page by page: it runs
    inside the request (stream_with_context), after the view has returned."""
    response = Response(
        stream_with_context(line.encode("utf-8") for line in csv_lines(header, rows)),
        mimetype="text/csv",
    )
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = content_disposition(filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
