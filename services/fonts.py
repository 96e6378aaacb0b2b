"""The font of the portal's PDFs: a subset of Noto Sans CJK SC, made once per instance.

WeasyPrint embeds the part of each font a document uses, and making that part costs in
proportion to the font it starts from: the system's Noto Sans CJK SC (a 19 MB collection,
65,535 glyphs per face) took about 60 of the 170 ms of a 受理通知书 and made every notice a
300 KB file. A subset holding GB2312 (the 6,763 characters of everyday Chinese and its
symbols), Latin and punctuation, and every character the PDF templates print is made from
the installed font with HarfBuzz's subsetter (about 0.1 s a weight, so it is made at the first
render, no install step needed) into ``instance/fonts/`` and declared to WeasyPrint as the
family ``Portal Sans`` (services/pdf.py). Characters outside it — a rare character in a name
or an address — fall back to the system's Noto Sans CJK SC (the next family in
static/css/pdf.css), so nothing prints as an empty box; such a document only costs what every
document cost before.

The file's name carries a digest of its source font and its character set: a new Debian font
or a template with a new character makes a new file. Nothing here is ever committed: the
font is derived on each machine from the font its system installed (fonts-noto-cjk).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cffi

log = logging.getLogger(__name__)

FAMILY = "Portal Sans"
SOURCE_FAMILY = "Noto Sans CJK SC"
# The weights the PDFs use (body text; headings, <th> and <strong>), as CSS and as fontconfig
# numbers them.
WEIGHTS = {400: 80, 700: 200}
SUBSET_VERSION = 1  # bump when the way a subset is made changes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Text the PDFs print that comes from files rather than data: every character in them is kept.
PRINTED_SOURCES = ("templates/pdf", "templates/catalogue/_macros.html", "static/img")
PRINTED_SUFFIXES = (".html", ".svg")

# Besides GB2312 and the printed sources: ASCII and Latin-1 (names of foreign applicants,
# addresses), general punctuation, CJK symbols and punctuation, full-width forms, arrows,
# geometric shapes and check marks (☐ ✓ on checklists), circled numbers.
RANGES = (
    (0x0020, 0x007E),
    (0x00A0, 0x017F),
    (0x2000, 0x206F),
    (0x2100, 0x214F),
    (0x2190, 0x21FF),
    (0x2460, 0x24FF),
    (0x25A0, 0x27BF),
    (0x3000, 0x303F),
    (0x3200, 0x32FF),
    (0xFF00, 0xFFEF),
)

_HB_DECLARATIONS = """
typedef struct hb_blob_t hb_blob_t;
typedef struct hb_face_t hb_face_t;
typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t;
hb_blob_t *hb_blob_create_from_file_or_fail (const char *file_name);
void hb_blob_destroy (hb_blob_t *blob);
const char *hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
hb_face_t *hb_face_create (hb_blob_t *blob, unsigned int index);
void hb_face_destroy (hb_face_t *face);
hb_blob_t *hb_face_reference_blob (hb_face_t *face);
hb_subset_input_t *hb_subset_input_create_or_fail (void);
void hb_subset_input_destroy (hb_subset_input_t *input);
hb_set_t *hb_subset_input_unicode_set (hb_subset_input_t *input);
hb_set_t *hb_subset_input_set (hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags (hb_subset_input_t *input, unsigned int value);
void hb_set_add (hb_set_t *set, uint32_t codepoint);
void hb_set_clear (hb_set_t *set);
uint32_t hb_tag_from_string (const char *str, int len);
hb_face_t *hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
"""
_FC_DECLARATIONS = """
typedef struct _FcConfig FcConfig;
typedef struct _FcPattern FcPattern;
FcConfig *FcInitLoadConfigAndFonts (void);
void FcConfigDestroy (FcConfig *config);
FcPattern *FcNameParse (const unsigned char *name);
void FcPatternDestroy (FcPattern *p);
int FcConfigSubstitute (FcConfig *config, FcPattern *p, int kind);
void FcDefaultSubstitute (FcPattern *pattern);
FcPattern *FcFontMatch (FcConfig *config, FcPattern *p, int *result);
int FcPatternGetString (const FcPattern *p, const char *object, int n, unsigned char **s);
int FcPatternGetInteger (const FcPattern *p, const char *object, int n, int *i);
"""
_FC_LIBRARIES = ("libfontconfig.so.1", "fontconfig", "libfontconfig.1.dylib")
_HB_LIBRARIES = ("libharfbuzz-subset.so.0", "harfbuzz-subset", "libharfbuzz-subset.0.dylib")
_HB_SUBSET_FLAGS_NOTDEF_OUTLINE = 0x40
_HB_SUBSET_SETS_DROP_TABLE_TAG = 3
_HB_SUBSET_SETS_LAYOUT_FEATURE_TAG = 6
# Horizontal text only: the vertical metrics go, and of the layout features only kerning
# stays (the others — vertical forms, the JP/KR/TC locl forms, width variants — would pull in
# 6,000 more glyphs that no PDF here shows).
_DROP_TABLES = (b"vhea", b"vmtx", b"VORG")
_KEEP_FEATURES = (b"kern",)


class FontUnavailable(Exception):
    """The subset cannot be made here (no source font, no fontconfig or HarfBuzz subsetter)."""


@dataclass(frozen=True)
class SubsetFont:
    weight: int
    path: Path


def gb2312() -> set[int]:
    """The code points of GB2312: 6,763 汉字 and 682 other characters."""
    points = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                points.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return points


def printed_characters(root: Path = PROJECT_ROOT) -> set[int]:
    """Every character in the files whose text the PDFs print (templates, seals)."""
    points: set[int] = set()
    for source in PRINTED_SOURCES:
        path = root / source
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and file.suffix in PRINTED_SUFFIXES:
                points.update(ord(ch) for ch in file.read_text(encoding="utf-8") if ord(ch) > 0x20)
    return points


def charset(root: Path = PROJECT_ROOT) -> frozenset[int]:
    points = gb2312() | printed_characters(root)
    for first, last in RANGES:
        points.update(range(first, last + 1))
    return frozenset(points)


def source_font(weight: int) -> tuple[Path, int]:
    """The installed Noto Sans CJK SC of this weight: (file, face index in the collection), as
    fontconfig — which Pango, and so WeasyPrint, asks too — finds it."""
    fc = _fontconfig()
    config = fc.FcInitLoadConfigAndFonts()
    if config == _ffi.NULL:
        raise FontUnavailable("fontconfig could not load its configuration")
    config = _ffi.gc(config, fc.FcConfigDestroy)
    pattern = fc.FcNameParse(f"{SOURCE_FAMILY}:weight={WEIGHTS[weight]}".encode())
    if pattern == _ffi.NULL:
        raise FontUnavailable("fontconfig could not be asked for a font")
    pattern = _ffi.gc(pattern, fc.FcPatternDestroy)
    fc.FcConfigSubstitute(config, pattern, 0)  # FcMatchPattern
    fc.FcDefaultSubstitute(pattern)
    result = _ffi.new("int *")
    match = fc.FcFontMatch(config, pattern, result)
    if match == _ffi.NULL:
        raise FontUnavailable(f"fontconfig found no font for {SOURCE_FAMILY}")
    match = _ffi.gc(match, fc.FcPatternDestroy)
    families, value = [], _ffi.new("unsigned char **")
    while fc.FcPatternGetString(match, b"family", len(families), value) == 0:
        families.append(_ffi.string(value[0]).decode())
    number = _ffi.new("int *")
    found_weight = number[0] if fc.FcPatternGetInteger(match, b"weight", 0, number) == 0 else None
    if SOURCE_FAMILY not in families or found_weight != WEIGHTS[weight]:
        raise FontUnavailable(
            f"{SOURCE_FAMILY} of weight {weight} is not installed (fontconfig offers "
            f"{families} of weight {found_weight})"
        )
    if fc.FcPatternGetString(match, b"file", 0, value) != 0:
        raise FontUnavailable(f"fontconfig gave no file for {SOURCE_FAMILY}")
    file = Path(_ffi.string(value[0]).decode())
    index = number[0] if fc.FcPatternGetInteger(match, b"index", 0, number) == 0 else 0
    return file, index


def subset_name(weight: int, source: Path, index: int, points: frozenset[int]) -> str:
    stat = source.stat()
    digest = hashlib.sha256(
        f"{SUBSET_VERSION}|{source}|{index}|{stat.st_size}|{stat.st_mtime_ns}|".encode()
        + ",".join(map(str, sorted(points))).encode()
    ).hexdigest()[:16]
    return f"portal-sans-{weight}-{digest}.otf"


def prepare(folder: Path, root: Path = PROJECT_ROOT) -> list[SubsetFont]:
    """The subset fonts, made into ``folder`` unless already there (raises FontUnavailable).

    Several processes may make the same file at once: each writes its own temporary file and
    renames it into place, and the bytes are the same."""
    points = charset(root)
    fonts = []
    for weight in WEIGHTS:
        source, index = source_font(weight)
        path = folder / subset_name(weight, source, index, points)
        if not path.is_file():
            data = subset_font(source, index, points)
            folder.mkdir(parents=True, exist_ok=True)
            fd, part = tempfile.mkstemp(dir=folder, prefix=".portal-sans-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    os.fchmod(out.fileno(), 0o644)
                os.replace(part, path)
            except BaseException:
                Path(part).unlink(missing_ok=True)
                raise
            log.info("made the PDF font %s (%d KB) from %s", path.name, len(data) // 1024, source)
            _remove_stale(folder, weight, keep=path)
        fonts.append(SubsetFont(weight, path))
    return fonts


def _remove_stale(folder: Path, weight: int, keep: Path) -> None:
    """Subsets of an older font or character set: no process needs them once it has loaded
    its fonts (WeasyPrint copies a font when it reads it)."""
    for old in folder.glob(f"portal-sans-{weight}-*.otf"):
        if old != keep:
            old.unlink(missing_ok=True)


_ffi = cffi.FFI()
_ffi.cdef(_HB_DECLARATIONS + _FC_DECLARATIONS)


def _dlopen(names: tuple[str, ...], what: str):
    for name in names:
        try:
            return _ffi.dlopen(name)
        except OSError:
            continue
    raise FontUnavailable(f"{what} is not installed")


@functools.cache
def _fontconfig():
    """libfontconfig, which Pango uses to find fonts."""
    return _dlopen(_FC_LIBRARIES, "fontconfig (libfontconfig)")


@functools.cache
def _hb():
    """libharfbuzz-subset, which WeasyPrint itself uses to subset fonts."""
    return _dlopen(_HB_LIBRARIES, "the HarfBuzz subsetter (libharfbuzz-subset)")


def subset_font(source: Path, index: int, points: frozenset[int]) -> bytes:
    """An OpenType (CFF) font with the glyphs of ``points`` from face ``index`` of ``source``."""
    hb = _hb()
    blob = hb.hb_blob_create_from_file_or_fail(str(source).encode())
    if blob == _ffi.NULL:
        raise FontUnavailable(f"cannot read {source}")
    blob = _ffi.gc(blob, hb.hb_blob_destroy)
    face = _ffi.gc(hb.hb_face_create(blob, index), hb.hb_face_destroy)
    subset_input = hb.hb_subset_input_create_or_fail()
    if subset_input == _ffi.NULL:
        raise FontUnavailable("HarfBuzz could not start a subset")
    subset_input = _ffi.gc(subset_input, hb.hb_subset_input_destroy)
    unicodes = hb.hb_subset_input_unicode_set(subset_input)
    for point in sorted(points):
        hb.hb_set_add(unicodes, point)
    hb.hb_subset_input_set_flags(subset_input, _HB_SUBSET_FLAGS_NOTDEF_OUTLINE)
    dropped = hb.hb_subset_input_set(subset_input, _HB_SUBSET_SETS_DROP_TABLE_TAG)
    for tag in _DROP_TABLES:
        hb.hb_set_add(dropped, hb.hb_tag_from_string(tag, -1))
    features = hb.hb_subset_input_set(subset_input, _HB_SUBSET_SETS_LAYOUT_FEATURE_TAG)
    hb.hb_set_clear(features)
    for tag in _KEEP_FEATURES:
        hb.hb_set_add(features, hb.hb_tag_from_string(tag, -1))
    subset = hb.hb_subset_or_fail(face, subset_input)
    if subset == _ffi.NULL:
        raise FontUnavailable(f"HarfBuzz could not subset {source}")
    subset = _ffi.gc(subset, hb.hb_face_destroy)
    result = _ffi.gc(hb.hb_face_reference_blob(subset), hb.hb_blob_destroy)
    length = _ffi.new("unsigned int *")
    data = hb.hb_blob_get_data(result, length)
    if not length[0]:
        raise FontUnavailable(f"HarfBuzz made an empty subset of {source}")
    return _ffi.unpack(data, length[0])
