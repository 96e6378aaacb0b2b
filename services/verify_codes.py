"""The verification code a licence's or notice's QR carries, and the QR itself.

Both services/elicences.py and services/notices.py print one; the public page by code
(services/elicences.check_by_code) reads both kinds, so this small module sits below them.
"""

from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import quote

import segno

# secrets.token_urlsafe(24): 32 characters, 192 random bits
VERIFY_CODE_RE = re.compile(r"[A-Za-z0-9_-]{16,43}")


def new_verify_code() -> str:
    """The random code a licence's or notice's QR carries: unguessable, so that the public
    page by code cannot be walked through, yet needing nothing the paper does not show."""
    return secrets.token_urlsafe(24)


def code_url(public_base_url: str, verify_code: str) -> str:
    """The absolute address in a licence's or notice's QR code: the public page by code."""
    return f"{public_base_url.rstrip('/')}/verify/c/{quote(verify_code, safe='')}"


def qr_data_uri(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
