"""Static files: a content hash in every URL the pages print, a year's caching for those,
revalidation for the rest; gzip for text over 1 KiB when the client accepts it."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]
STATIC_URL = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def static_urls(html: str) -> list[str]:
    return STATIC_URL.findall(html)


def test_pages_print_fingerprinted_static_urls_cached_for_a_year(client):
    urls = static_urls(client.get("/").get_data(as_text=True))
    assert urls and all(re.match(r"/static/v-[0-9a-f]{12}/", u) for u in urls), urls
    for url in urls:
        filename = url.split("/", 3)[3]
        digest = hashlib.sha256((ROOT / "static" / filename).read_bytes()).hexdigest()[:12]
        assert url == f"/static/v-{digest}/{filename}"
        with client.get(url) as response:  # a file: closed at once
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_unversioned_or_stale_static_urls_are_revalidated(client):
    for url in ("/static/css/portal.css", "/static/v-000000000000/css/portal.css"):
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/v-000000000000/../pyproject.toml").status_code == 404
    assert client.get("/static/v-000000000000/nope.css").status_code == 404


def test_text_is_gzipped_when_accepted_and_only_then(client):
    css = static_urls(client.get("/").get_data(as_text=True))[0]
    with client.get(css) as plain, client.get(css, headers={"Accept-Encoding": "gzip"}) as packed:
        plain.get_data(), packed.get_data()
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 2

    page = client.get("/catalogue", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(page.data).decode()
    assert "事项目录" in html and "Accept-Encoding" in page.headers["Vary"]
    assert page.headers["ETag"].startswith('W/"')  # the gzipped bytes are not the plain ones
    revisit = client.get(
        "/catalogue", headers={"Accept-Encoding": "gzip", "If-None-Match": page.headers["ETag"]}
    )
    assert revisit.status_code == 304
    assert "Content-Encoding" not in client.get("/catalogue").headers


def test_pdfs_images_and_small_answers_are_not_compressed(client):
    accept = {"Accept-Encoding": "gzip"}
    pdf = client.get("/items/330100GA0001/guide.pdf", headers=accept)
    assert pdf.status_code == 200 and "Content-Encoding" not in pdf.headers
    assert pdf.data.startswith(b"%PDF")
    health = client.get("/healthz", headers=accept)
    assert "Content-Encoding" not in health.headers  # a few bytes: not worth it


def test_static_files_neither_read_nor_write_the_session(client):
    login(client, "13800000001")
    css = static_urls(client.get("/cases").get_data(as_text=True))[0]
    with client.get(css) as response:
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/cases").status_code == 200  # still logged in
