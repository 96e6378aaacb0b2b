"""Every user-facing string is marked for translation and has an English translation."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_extracted_string_has_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--ignore-dirs",
            ".* .venv",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "translations/en/LC_MESSAGES/messages.po").open("rb") as fh:
        english = {m.id: m for m in read_po(fh, locale="en") if m.id}
    untranslated = sorted(
        str(mid)
        for mid in extracted
        if mid not in english or not english[mid].string or english[mid].fuzzy
    )
    assert len(extracted) > 100
    assert not untranslated, f"run `make messages` and translate: {untranslated[:20]}"
