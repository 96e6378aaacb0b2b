"""scripts/bench.py's reading of wrk's output and its verdicts (no server, no wrk: cheap)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"
spec = importlib.util.spec_from_file_location("bench_script", SCRIPT)
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # its dataclasses look their module up
spec.loader.exec_module(bench)

WRK = """Running 3s test @ http://127.0.0.1:40123/cases
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.31ms    4.02ms  61.20ms   80.00%
    Req/Sec   325.12     40.10   400.00     70.00%
  Latency Distribution
     50%  {p50}
     75%   13.01ms
     90%   16.20ms
     99%  {p99}
  1950 requests in 3.01s, 20.10MB read
{extra}Requests/sec:    647.84
Transfer/sec:      6.68MB
"""


def test_wrk_figures_in_every_unit():
    result = bench.parse_wrk(WRK.format(p50="850.00us", p99="1.20s", extra=""))
    assert (result.requests, result.seconds, result.rps) == (1950, 3.01, 647.84)
    assert (result.p50_ms, result.p99_ms, result.bad) == (0.85, 1200.0, 0)


def test_wrong_statuses_and_socket_errors_are_counted():
    extra = (
        "  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n"
    )
    result = bench.parse_wrk(WRK.format(p50="11.00ms", p99="40.00ms", extra=extra))
    assert result.bad == 7 + 2 + 3


def test_output_that_is_not_wrk_is_refused():
    with pytest.raises(ValueError, match="unexpected wrk output"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


@pytest.mark.parametrize(
    ("ratio", "p99", "bad", "note", "ok"),
    [
        (0.30, 40.0, 0, "", True),
        (0.20, 40.0, 0, "", False),  # too slow beside the bare route
        (0.30, 60.0, 0, "", False),  # the tail is too long
        (0.30, 40.0, 1, "", False),  # a wrong answer under load
        (0.30, 40.0, 0, "HTTP 302 /auth/login", False),  # measured something else
    ],
)
def test_a_page_passes_only_on_every_count(ratio, p99, bad, note, ok):
    page = next(p for p in bench.PAGES if p.label == "我的办件")
    row = bench.Row(page.label, ratio=ratio, p99_ms=p99, bad=bad, note=note)
    assert bench.judge(row, page) is ok


def test_table_columns_line_up_with_chinese_labels():
    text = bench.table(("page", "req/s"), [("我的办件", "12"), ("home", "1,234")])
    widths = {bench.display_width(line) for line in text.splitlines()}
    assert len(widths) == 1


def cache_args(**changes):
    args = bench.parse_args(["--db", "sqlite", "--cases", "1000", "--seed-only"])
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def make_cache(path: Path, sources: dict[str, str], migrations: dict | None = None) -> Path:
    path.mkdir(parents=True)
    if migrations is None:
        migrations = bench.migration_files("head")
    record = {"rows": 1, "sources": sources, "migrations": migrations}
    (path / "done.json").write_text(bench.json.dumps(record))
    return path


def test_the_exact_cache_is_taken_without_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    args = cache_args()
    exact = make_cache(tmp_path / bench.cache_key("sqlite", args), bench.source_digests())
    assert bench.find_cache("sqlite", args) == (exact, "")
    assert bench.find_cache("sqlite", cache_args(fresh=True)) == (None, "")


def test_a_cache_of_the_same_sizes_by_older_sources_is_taken_and_named(tmp_path, monkeypatch):
    """Another session's edit of seeds/demo.py must not cost a seed of a million cases; the
    report says which sources changed since; --exact-cache seeds again instead."""
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    args = cache_args()
    older = {**bench.source_digests(), "seeds/demo.py": "0123456789ab"}
    stale = make_cache(tmp_path / f"{bench.cache_prefix('sqlite', args)}-0123456789ab", older)
    make_cache(tmp_path / bench.cache_key("sqlite", cache_args(cases=2000)), {})  # other sizes
    make_cache(tmp_path / bench.cache_key("postgresql", args), {})  # the other database
    found, note = bench.find_cache("sqlite", args)
    assert found == stale
    assert "seeds/demo.py" in note and "seeds/scale.py" not in note
    assert bench.find_cache("sqlite", cache_args(exact_cache=True)) == (None, "")
    assert bench.find_cache("sqlite", cache_args(cases=3000)) == (None, "")


def test_a_cache_whose_applied_migrations_changed_is_never_taken(tmp_path, monkeypatch):
    """A migration edited after the cache applied it leaves a schema that no upgrade
    corrects: the cache is skipped (a later unchanged one is taken, else the seed runs)."""
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    args = cache_args()
    applied = bench.migration_files("head")
    edited = {**applied, sorted(applied)[-1]: "0" * 64}
    make_cache(tmp_path / bench.cache_key("sqlite", args), bench.source_digests(), edited)
    assert bench.find_cache("sqlite", args) == (None, "")
    older = make_cache(tmp_path / f"{bench.cache_prefix('sqlite', args)}-0123456789ab", {})
    assert bench.find_cache("sqlite", args)[0] == older
    assert bench.find_cache("sqlite", cache_args(exact_cache=True)) == (None, "")
    # a record from before migrations were recorded is not trusted either
    (older / "done.json").write_text(bench.json.dumps({"rows": 1}))
    assert bench.find_cache("sqlite", args) == (None, "")


def test_a_new_cache_replaces_older_ones_of_the_same_sizes_only(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    args = cache_args()
    older = make_cache(tmp_path / f"{bench.cache_prefix('sqlite', args)}-0123456789ab", {})
    other_size = make_cache(tmp_path / bench.cache_key("sqlite", cache_args(cases=2000)), {})
    other_db = make_cache(tmp_path / bench.cache_key("postgresql", args), {})
    new = make_cache(tmp_path / bench.cache_key("sqlite", args), bench.source_digests())
    bench.drop_older_caches(new, "sqlite", args)
    assert not older.exists()
    assert new.exists() and other_size.exists() and other_db.exists()


def test_the_reference_pages_are_the_login_and_the_frame_and_only_in_the_bench(
    database_templates, monkeypatch
):
    """scripts/bench_portal.py adds two pages to the portal the benchmark serves: an empty view
    behind the login, and the page frame with nothing in it. Both refuse a reader who is not
    logged in, as every personal page does; the portal itself has neither."""
    import bench_portal

    from tests.conftest import dispose_app, login, make_app

    url, uploads = database_templates.copy("bench-references", True)
    monkeypatch.setattr(bench_portal, "create_app", lambda config: make_app(url, uploads))
    app = bench_portal.make_app()
    plain = make_app(url, uploads)
    try:
        client = app.test_client()
        for path in ("/bench/signed-in", "/bench/frame"):
            refused = client.get(path)
            assert refused.status_code == 302 and "/auth/login" in refused.headers["Location"]
            assert plain.test_client().get(path).status_code == 404
        assert login(client, "13800000001").status_code == 302
        empty = client.get("/bench/signed-in")
        assert empty.status_code == 200 and empty.get_data(as_text=True) == "ok"
        frame = client.get("/bench/frame")
        html = frame.get_data(as_text=True)
        assert frame.status_code == 200 and "no-store" in frame.headers["Cache-Control"]
        assert "退出" in html and 'id="main"' in html and "data-session-seconds" in html
    finally:
        dispose_app(app)
        dispose_app(plain)
