"""HTTP under load: backprop-viz against a bare FastAPI echo endpoint, in one run.

wrk (Debian's package, installed here if missing) sends ``POST /api/trace {"example":
"apple"}`` to the app and the same body to ``POST /echo`` of bench/bare_app.py, both served by
uvicorn with the same workers, at 1, 16 and 64 connections, with 1 and 2 workers; the two are
measured one after the other in each of ``--rounds`` rounds, and the medians compared. The book
preset (``two_layer_net_book``) is measured at 16 connections too: it is heavy work (one in
flight per worker, the rest a 503), so its figure is the 200s per second per worker.
Targets (issue 12): apple at least 0.8x the bare throughput at 16 and 64 connections, its p99
at most 1.3x the bare one's; the book preset at least 50 requests/s per worker.

Only 127.0.0.1; every wrk run is bounded by ``--seconds``.
Run: python bench/bench_http.py [--seconds 4] [--rounds 2] [--workers 1 2] [--connections 1 16 64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import free_port, stop_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APPLE = '{"example":"apple"}'
BOOK = '{"example":"two_layer_net_book"}'
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or sys.exit("wrk did not install")


def start(app: str, workers: int, app_dir: Path) -> tuple[subprocess.Popen, str]:
    """uvicorn on ``app`` with ``workers``, imported from ``app_dir`` first; the base URL once
    it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--app-dir", str(app_dir)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(app_dir), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=app_dir
    )
    url = f"http://127.0.0.1:{port}"
    health = "/api/health" if app.startswith("backprop_viz") else "/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + health, timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"{app} did not start")


def post_script(body: str, folder: Path) -> Path:
    """A wrk Lua script that POSTs ``body`` as JSON."""
    path = folder / f"post_{abs(hash(body))}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {body!r}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def wrk(binary: str, url: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    """One bounded wrk run: requests/s (all, and 2xx), p50 and p99 in ms, non-2xx count."""
    command = [binary, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--latency", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    total = int(re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)[1])
    duration = float(re.search(r"requests in ([\d.]+)(m?s)", out)[1])
    if re.search(r"requests in [\d.]+ms", out):
        duration /= 1e3
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = int(bad[1]) if bad else 0

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * UNITS[unit]

    return {
        "rps": total / duration,
        "ok_rps": (total - non_2xx) / duration,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non_2xx": non_2xx,
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a folder holding another version of the package as backprop_viz/ (e.g. `git "
        "archive REV | tar -x -C DIR && ln -s DIR/app DIR/backprop_viz`): its apple and book "
        "figures are measured in the same rounds, as 'before'",
    )
    args = parser.parse_args()
    binary = ensure_wrk()
    print(
        f"wrk {args.seconds:g} s a run, medians of {args.rounds} interleaved rounds; "
        f"{os.cpu_count()} cores (shared: figures from a busy machine are noisy)"
    )
    with tempfile.TemporaryDirectory() as folder:
        apple, book = post_script(APPLE, Path(folder)), post_script(BOOK, Path(folder))
        for workers in args.workers:
            servers = {
                "app": start("backprop_viz.main:app", workers, ROOT),
                "bare": start("bare_app:app", workers, ROOT / "bench"),
            }
            if args.baseline:
                servers["before"] = start("backprop_viz.main:app", workers, args.baseline)
            urls = {name: url for name, (_, url) in servers.items()}
            try:
                report(binary, args, workers, urls, apple, book)
            finally:
                for process, _ in servers.values():
                    stop_server(process)


def report(binary, args, workers, urls, apple, book) -> None:
    """The tables of one worker count: apple against bare (and before), then the book preset."""
    before = "before" in urls
    print(f"\n{workers} worker(s)")
    print(
        f"  {'conns':>5} {'bare req/s':>11} {'apple req/s':>12} {'ratio':>6}  "
        f"{'bare p50/p99 ms':>16} {'apple p50/p99 ms':>17} {'p99 ratio':>9}"
        + ("   before: req/s ratio p99 ratio" if before else "")
    )
    for connections in args.connections:
        runs: dict[str, list] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():  # interleaved: each round runs every server
                path = "/echo" if name == "bare" else "/api/trace"
                runs[name].append(wrk(binary, url + path, apple, connections, args.seconds))
        b, a = median_of(runs["bare"]), median_of(runs["app"])
        ratio, p99_ratio = a["ok_rps"] / b["ok_rps"], a["p99"] / b["p99"]
        flags = ""
        if connections > 1:
            throughput = "ok" if ratio >= 0.8 else "BELOW 0.8"
            flags = f"  {throughput}/{'ok' if p99_ratio <= 1.3 else 'ABOVE 1.3'}"
        old = ""
        if before:
            o = median_of(runs["before"])
            old = f"   {o['ok_rps']:>6.0f} {o['ok_rps'] / b['ok_rps']:>5.2f}"
            old += f" {o['p99'] / b['p99']:>5.2f}"
        print(
            f"  {connections:>5} {b['ok_rps']:>11.0f} {a['ok_rps']:>12.0f} {ratio:>6.2f}  "
            f"{b['p50']:>7.1f}/{b['p99']:<8.1f} {a['p50']:>8.1f}/{a['p99']:<8.1f} "
            f"{p99_ratio:>9.2f}{old}{flags}"
        )
    names = [n for n in ("app", "before") if n in urls]
    book_runs: dict[str, list] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            book_runs[name].append(wrk(binary, urls[name] + "/api/trace", book, 16, args.seconds))
    for name in names:
        k = median_of(book_runs[name])
        per_worker = k["ok_rps"] / workers
        verdict = "ok" if per_worker >= 50 else "BELOW"
        print(
            f"  book preset, 16 connections{' (before)' if name == 'before' else ''}: "
            f"{k['ok_rps']:.0f} traces/s ({per_worker:.0f} per worker, target 50: {verdict}), "
            f"p50 {k['p50']:.1f} ms, {k['non_2xx'] / args.seconds:.0f} busy 503s/s"
        )


if __name__ == "__main__":
    main()
