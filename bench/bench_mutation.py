"""Mutation bench: how many small bugs in the backend do the backend tests catch?

Runs mutmut 3.x (``pip install -e '.[bench]'``) over backend modules against the backend tests
(everything under tests/ except the browser tests in tests/e2e) and prints, per module, the
number of mutants, killed, survived and the kill rate. A mutant is one operator, constant or
condition changed; a killed mutant is one that some test fails on.

mutmut expects the code under ``src/`` with the import name as its folder, while this project
installs ``app/`` as ``backprop_viz``. So the bench stages a copy of the project in a temporary
folder (``src/backprop_viz`` with the page's static/ and templates/ inside, ``tests/`` and a
``pyproject.toml`` holding the mutmut and pytest settings) and runs mutmut there; the checkout is
never touched. ``--source`` stages another checkout instead (e.g. a ``git archive`` of an older
commit, for a baseline). It takes minutes: it is a bench, not a CI test.

Run: python bench/bench_mutation.py [--module core/layers.py ...] [--max-children 2]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODULES = ["core/layers.py", "checks/gradcheck.py"]
# Tests that cannot run against the staged copy: the browser, and the checks of the real
# checkout's packaging (pyproject's package list against app/).
EXCLUDED_TESTS = ["e2e", "test_packaging.py"]
RESULT_LINE = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+): (?P<status>[\w ]+)$")


def stage(source: Path, workdir: Path, modules: list[str]) -> None:
    """Copy ``source`` into ``workdir`` in the layout mutmut expects, with its settings."""
    package = workdir / "src" / "backprop_viz"
    shutil.copytree(source / "app", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(source / "static", package / "static")
    shutil.copytree(source / "templates", package / "templates")
    shutil.copytree(
        source / "tests",
        workdir / "tests",
        ignore=shutil.ignore_patterns("__pycache__", *EXCLUDED_TESTS),
    )
    pytest_options = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["pytest"]
    options = dict(pytest_options["ini_options"], testpaths=["tests"])
    only = ", ".join(f'"src/backprop_viz/{m}"' for m in modules)
    lines = [
        "[tool.mutmut]",
        'source_paths = ["src/backprop_viz"]',
        f"only_mutate = [{only}]",
        'pytest_add_cli_args_test_selection = ["tests"]',
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly"]',
        "",
        "[tool.pytest.ini_options]",
        *(f"{key} = {toml_value(value)}" for key, value in options.items()),
        "",
    ]
    (workdir / "pyproject.toml").write_text("\n".join(lines))


def toml_value(value) -> str:
    """A TOML literal for the str, list of str and similar values of pytest's settings."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_mutmut(workdir: Path, max_children: int) -> str:
    """``mutmut run`` then ``mutmut results --all true``; returns the results listing."""
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"mutmut run failed with exit code {run.returncode}")
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    return listing.stdout


def tally(listing: str, modules: list[str]) -> dict[str, Counter]:
    """Status counts per module from mutmut's results listing (``name: status`` lines)."""
    by_module = {m: Counter() for m in modules}
    dotted = {"backprop_viz." + m.removesuffix(".py").replace("/", "."): m for m in modules}
    for line in listing.splitlines():
        match = RESULT_LINE.match(line)
        if not match:
            continue
        name = match["name"]
        module = next((m for prefix, m in dotted.items() if name.startswith(prefix + ".")), None)
        if module is not None:
            by_module[module][match["status"].strip()] += 1
    return by_module


def report(by_module: dict[str, Counter]) -> None:
    """One line per module: mutants, killed (a test failed or timed out), survived, kill rate."""
    print(f"{'module':<24} {'mutants':>8} {'killed':>7} {'survived':>9} {'kill rate':>10}  other")
    for module, counts in by_module.items():
        total = sum(counts.values())
        killed = counts["killed"] + counts["timeout"]
        survived = counts["survived"]
        other = {k: v for k, v in counts.items() if k not in ("killed", "timeout", "survived")}
        rate = f"{killed / total:.1%}" if total else "-"
        print(f"{module:<24} {total:>8} {killed:>7} {survived:>9} {rate:>10}  {other or ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module",
        action="append",
        dest="modules",
        help="a module under app/ to mutate (repeatable; default: %(default)s)",
    )
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to stage")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--keep", type=Path, help="stage here and keep it (to inspect mutants)")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args()
    modules = args.modules or DEFAULT_MODULES

    with tempfile.TemporaryDirectory(prefix="bpv-mutation-") as tmp:
        workdir = args.keep or Path(tmp)
        if args.keep and workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        stage(args.source.resolve(), workdir, modules)
        start = time.perf_counter()
        listing = run_mutmut(workdir, args.max_children)
        elapsed = time.perf_counter() - start
    print(f"mutmut over {', '.join(modules)} from {args.source} in {elapsed:.0f} s")
    report(tally(listing, modules))
    if args.survivors:
        for line in listing.splitlines():
            if line.strip().endswith(": survived"):
                print(line.strip())


if __name__ == "__main__":
    main()
