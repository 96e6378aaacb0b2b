"""A small mutation tester: does the test suite notice when a rule in a service is broken?

For a target file it parses the source with ``ast`` and makes mutants, one change each:
comparison operators flipped (< <= > >= == != is/is not in/not in), ``and``/``or`` swapped,
an ``if``/``while``/conditional-expression test negated, ``not x`` made ``x``, ``return True``
and ``return False`` swapped, an integer constant off by one, a ``raise`` replaced by ``pass``,
SQLAlchemy's ``.is_(…)``/``.is_not(…)`` swapped.

The repository is never touched: its working tree (tracked and untracked files, minus what
git ignores and the virtualenv) is copied once to a temporary directory, each mutant is
written into that copy, the given test files run there with ``-x`` and a timeout, and the
original file is put back in the copy before the next mutant. The virtualenv has the project
installed in editable mode pointing at the repository, so PYTHONPATH names the copy first
(checked before any mutant runs).

    .venv/bin/python scripts/mutate.py services/workdays.py \
        --tests tests/services/test_workdays.py tests/services/test_rules_workdays.py \
        --max 40 --seed 17 --timeout 120

    # one hand-written mutation, for checking that a test catches a named breakage
    .venv/bin/python scripts/mutate.py services/reuse.py --tests tests/services/test_reuse.py \
        --replace 'document.valid_until < needed_until' 'document.valid_until < date.today()'

A mutant is *killed* when the tests fail, *survived* when they pass, *timeout* when they run
past max(--timeout, 3x the baseline) (an endless loop, or a machine too loaded to tell).
``--head`` copies the last commit instead of the working tree (stable while others edit it).
Exit status 0 always (the report is the result); a failing baseline aborts with status 2.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

CMP_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
CMP_TEXT = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


@dataclass
class Mutant:
    index: int
    line: int
    description: str


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def candidates(tree: ast.AST) -> Iterator[tuple[ast.AST, str, str]]:
    """(node, variant, description) for every mutation the tree allows, in a fixed order."""
    skip = _docstring_nodes(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in CMP_SWAP:
                    new = CMP_SWAP[type(op)]
                    yield (
                        node,
                        f"cmp:{i}",
                        f"{CMP_TEXT[type(op)]} -> {CMP_TEXT[new]} ({ast.unparse(node)[:60]})",
                    )
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            mine = "and" if other == "or" else "or"
            yield node, "boolop", f"{mine} -> {other} ({ast.unparse(node)[:60]})"
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            yield node, "negate", f"negate condition: not ({ast.unparse(node.test)[:60]})"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "dropnot", f"drop not: {ast.unparse(node)[:60]}"
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Constant):
            if node.value.value is True or node.value.value is False:
                yield node, "retbool", f"return {node.value.value} -> return {not node.value.value}"
        elif (
            isinstance(node, ast.Constant)
            and type(node.value) is int
            and id(node) not in skip
            and line
        ):
            yield node, "int+1", f"{node.value} -> {node.value + 1}"
            if node.value != 0:
                yield node, "int-1", f"{node.value} -> {node.value - 1}"
        elif isinstance(node, ast.Raise):
            yield node, "noraise", f"raise dropped: {ast.unparse(node)[:60]}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("is_", "is_not")
        ):
            yield node, "isnot", f".{node.func.attr}() -> swapped ({ast.unparse(node)[:60]})"


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, variant: str):
        self.target, self.variant = target, variant

    def visit(self, node):  # type: ignore[override]
        if node is not self.target:
            return self.generic_visit(node)
        v = self.variant
        if v.startswith("cmp:"):
            i = int(v[4:])
            node.ops[i] = CMP_SWAP[type(node.ops[i])]()
        elif v == "boolop":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif v == "negate":
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        elif v == "dropnot":
            return node.operand
        elif v == "retbool":
            node.value = ast.Constant(value=not node.value.value)
        elif v == "int+1":
            return ast.Constant(value=node.value + 1)
        elif v == "int-1":
            return ast.Constant(value=node.value - 1)
        elif v == "noraise":
            return ast.Pass()
        elif v == "isnot":
            node.func.attr = "is_not" if node.func.attr == "is_" else "is_"
        return node


def list_mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    return [
        Mutant(i, getattr(node, "lineno", 0), desc)
        for i, (node, _, desc) in enumerate(candidates(tree))
    ]


def mutant_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    node, variant, _ = list(candidates(tree))[index]
    tree = _Replace(node, variant).visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def select_lines(mutants: list[Mutant], spec: str | None) -> list[Mutant]:
    if not spec:
        return mutants
    ranges = [tuple(int(x) for x in part.split("-")) for part in spec.split(",")]
    return [m for m in mutants if any(r[0] <= m.line <= r[-1] for r in ranges)]


def copy_head(dest: Path) -> None:
    """The last commit (a stable tree while others edit the working tree)."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def copy_tree(dest: Path) -> None:
    """The working tree as it is now: tracked and untracked files, not ignored ones."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        if rel.startswith(".venv/"):
            continue
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def run_tests(
    copy_root: Path, tests: list[str], timeout: float, stop_first: bool = True
) -> tuple[str, float, str]:
    env = {**os.environ, "PYTHONPATH": str(copy_root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PORTAL_TEST_PG_ADMIN_URL", None)  # SQLite only
    cmd = [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    if stop_first:
        cmd.insert(3, "-x")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=copy_root, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started, ""
    elapsed = time.monotonic() - started
    lines = proc.stdout.strip().splitlines()
    tail = "\n".join([line for line in lines if line.startswith("FAILED")] + lines[-1:])
    if proc.returncode == 0:
        return "passed", elapsed, tail
    if proc.returncode == 1:
        return "failed", elapsed, tail
    return f"error rc={proc.returncode}", elapsed, tail


def check_imports_resolve_to(copy_root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(copy_root)}
    out = subprocess.run(
        [str(PYTHON), "-c", "import services, portal; print(services.__file__, portal.__file__)"],
        cwd=copy_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if any(not part.startswith(str(copy_root)) for part in out.split()):
        sys.exit(f"imports resolve outside the copy: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="file to mutate, relative to the repository root")
    parser.add_argument("--tests", nargs="+", required=True, help="test files or node ids")
    parser.add_argument("--max", type=int, default=40, help="sample at most this many mutants")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per mutant")
    parser.add_argument("--only", type=int, nargs="*", help="run these mutant indexes only")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument(
        "--lines", help="only mutants on these lines, e.g. 230-250,489-660 (before sampling)"
    )
    parser.add_argument(
        "--replace", nargs=2, metavar=("OLD", "NEW"), help="one hand-written textual mutation"
    )
    parser.add_argument(
        "--no-stop", action="store_true", help="run every test (no -x), to list all that fail"
    )
    parser.add_argument(
        "--head", action="store_true", help="copy the last commit, not the working tree"
    )
    parser.add_argument("--copy", help="reuse this copy of the tree instead of making one")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    if args.list:
        for m in select_lines(list_mutants((ROOT / args.target).read_text()), args.lines):
            print(f"#{m.index:3d} {args.target}:{m.line}: {m.description}")
        return

    if args.copy:
        copy_root = Path(args.copy)
    else:
        copy_root = Path(tempfile.mkdtemp(prefix="mutate-"))
        (copy_head if args.head else copy_tree)(copy_root)
    check_imports_resolve_to(copy_root)
    target = copy_root / args.target
    original = target.read_text()
    mutants = list_mutants(original)  # of the copy: the tree may change meanwhile
    print(f"copy: {copy_root}", flush=True)

    outcome, elapsed, tail = run_tests(copy_root, args.tests, args.timeout * 2)
    if outcome != "passed":
        print(f"baseline does not pass ({outcome}):\n{tail}")
        sys.exit(2)
    print(f"baseline passed in {elapsed:.0f}s", flush=True)
    # a loaded machine slows every run alike: a mutant only times out at 3x the baseline
    timeout = max(args.timeout, 3 * elapsed)

    if args.replace:
        old, new = args.replace
        if original.count(old) != 1:
            sys.exit(f"--replace: OLD found {original.count(old)} times in {args.target}")
        jobs = [(None, f"replace {old!r} -> {new!r}", original.replace(old, new))]
    else:
        chosen = select_lines(mutants, args.lines)
        if args.only:
            chosen = [mutants[i] for i in args.only]
        elif len(chosen) > args.max:
            chosen = sorted(random.Random(args.seed).sample(chosen, args.max), key=lambda m: m.line)
        jobs = [(m, m.description, None) for m in chosen]
        print(f"{len(mutants)} mutants, running {len(chosen)}", flush=True)

    results = []
    try:
        for m, description, text in jobs:
            text = text if text is not None else mutant_source(original, m.index)
            target.write_text(text)
            outcome, elapsed, tail = run_tests(
                copy_root, args.tests, timeout, stop_first=not args.no_stop
            )
            target.write_text(original)
            status = {"passed": "SURVIVED", "timeout": "timeout"}.get(outcome, "killed")
            where = f"{args.target}:{m.line} #{m.index}" if m else args.target
            print(f"{status:8s} {where}: {description} [{outcome}, {elapsed:.0f}s]", flush=True)
            if tail and (m is None):
                print("   " + tail.replace("\n", "\n   "), flush=True)
            results.append(
                {
                    "index": m.index if m else None,
                    "line": m.line if m else None,
                    "mutation": description,
                    "status": status,
                    "outcome": outcome,
                }
            )
    finally:
        target.write_text(original)
    killed = sum(r["status"] == "killed" for r in results)
    timeouts = sum(r["status"] == "timeout" for r in results)
    print(
        f"SUMMARY {args.target}: generated {len(mutants)}, run {len(results)}, "
        f"killed {killed}, timed out {timeouts}, survived {len(results) - killed - timeouts}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1))
    if not args.copy:
        shutil.rmtree(copy_root, ignore_errors=True)


if __name__ == "__main__":
    main()
