"""HTTP under load: backprop-viz against a bare FastAPI endpoint, in one run.

wrk (Debian's package, installed here if missing) sends ``POST /api/trace {"example":
"apple"}`` to the app and the same body to ``POST /echo`` of bench/bare_app.py, at 1, 16 and 64
connections, with 1 and 2 workers; the servers are measured one after the other in each of
``--rounds`` rounds, and the medians compared.

The app runs as ``backprop-viz serve`` runs it (its HTTP protocol with the header deadline, its
keep-alive, one BLAS thread); the bare endpoint on plain uvicorn with the same workers, event
loop (uvloop) and parser (httptools), and it answers as many bytes as the app's apple trace
(the bench asks the app first), so the two differ by what the app does, not by what the
network carries. ``--baseline DIR`` runs another version of the package the same way, in the
same rounds, as "before".

The book preset (``two_layer_net_book``) is measured at 16 and 64 connections too: it is heavy
work (one in flight per worker, the rest wait in line, BPV_HEAVY_QUEUE; a 503 only past the line
or its wait), so its figure is the 200s per second per worker.
Targets (issue 12): apple at least 0.8x the bare throughput at 16 and 64 connections, its p99
at most 1.3x the bare one's; the book preset at least 50 requests/s per worker. Each row ends
with the 1-minute load average when it was measured (the machine may be shared). The column
"edited" is apple with a leaf's new value, as the page sends an edit, in the same rounds (for
information: no target).

Only 127.0.0.1; every wrk run is bounded by ``--seconds``.
Run: python bench/bench_http.py [--seconds 4] [--rounds 3] [--workers 1 2] [--connections 1 16 64]
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
# The page's edit of a leaf: a graph assembled per request, no answer the same as the last.
EDITED = '{"example":"apple","values":{"apple":150}}'
BARE_BYTES = "BARE_RESPONSE_BYTES"  # bare_app answers this many bytes
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


# `backprop-viz serve` as it is, without uvicorn's access log (one line a request, which the bare
# endpoint does not write either).
QUIET_SERVE = (
    "import sys, functools, uvicorn; from backprop_viz import cli; "
    "uvicorn.run = functools.partial(uvicorn.run, log_level='warning', access_log=False); "
    "sys.exit(cli.main(sys.argv[1:]))"
)


def start(
    app: str, workers: int, app_dir: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """The server of ``app`` with ``workers``, imported from ``app_dir`` first; the base URL
    once it answers. ``backprop_viz`` runs through ``backprop-viz serve`` (without the access
    log); anything else on uvicorn with the options serve gives it (keep-alive 5 s, one BLAS
    thread)."""
    port = free_port()
    if app == "backprop_viz":
        command = [sys.executable, "-c", QUIET_SERVE, "serve"]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--loop", "uvloop", "--http", "httptools"]
        command += ["--timeout-keep-alive", "5", "--log-level", "warning"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(app_dir), os.environ.get("PYTHONPATH")])),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=app_dir
    )
    url = f"http://127.0.0.1:{port}"
    health = "/api/health" if app == "backprop_viz" else "/health"
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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--book-connections", type=int, nargs="*", default=[16, 64])
    parser.add_argument(
        "--bare-async",
        action="store_true",
        help="also measure the bare endpoint as an `async def` (no hop to a thread), for "
        "information: the targets are against the plain `def` one",
    )
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
        edited = post_script(EDITED, Path(folder))
        for workers in args.workers:
            servers = {"app": start("backprop_viz", workers, ROOT)}
            size = str(len(httpx.post(servers["app"][1] + "/api/trace", content=APPLE).content))
            servers["bare"] = start("bare_app:app", workers, ROOT / "bench", {BARE_BYTES: size})
            if args.bare_async:
                servers["bare_async"] = start(
                    "bare_app:async_app", workers, ROOT / "bench", {BARE_BYTES: size}
                )
            if args.baseline:
                servers["before"] = start("backprop_viz", workers, args.baseline)
            urls = {name: url for name, (_, url) in servers.items()}
            try:
                report(binary, args, workers, urls, apple, book, edited)
            finally:
                for process, _ in servers.values():
                    stop_server(process)


def report(binary, args, workers, urls, apple, book, edited) -> None:
    """The tables of one worker count: apple against bare (and before, and apple edited), then
    the book preset."""
    others = [name for name in ("bare_async", "before") if name in urls] + ["edited"]
    print(f"\n{workers} worker(s)")
    print(
        f"  {'conns':>5} {'bare req/s':>11} {'apple req/s':>12} {'ratio':>6}  "
        f"{'bare p50/p99 ms':>16} {'apple p50/p99 ms':>17} {'p99 ratio':>9}"
        + "".join(f"   {name}: req/s ratio p99 ratio" for name in others)
        + "   load"
    )
    for connections in args.connections:
        runs: dict[str, list] = {name: [] for name in [*urls, "edited"]}
        for _ in range(args.rounds):
            for name, url in urls.items():  # interleaved: each round runs every server
                path = "/api/trace" if name in ("app", "before") else "/echo"
                runs[name].append(wrk(binary, url + path, apple, connections, args.seconds))
            run = wrk(binary, urls["app"] + "/api/trace", edited, connections, args.seconds)
            runs["edited"].append(run)
        b, a = median_of(runs["bare"]), median_of(runs["app"])
        ratio, p99_ratio = a["ok_rps"] / b["ok_rps"], a["p99"] / b["p99"]
        flags = ""
        if connections > 1:
            throughput = "ok" if ratio >= 0.8 else "BELOW 0.8"
            flags = f"  {throughput}/{'ok' if p99_ratio <= 1.3 else 'ABOVE 1.3'}"
        old = ""
        for name in others:
            o = median_of(runs[name])
            old += f"   {o['ok_rps']:>{len(name) + 7}.0f} {o['ok_rps'] / b['ok_rps']:>5.2f}"
            old += f" {o['p99'] / b['p99']:>9.2f}"
        print(
            f"  {connections:>5} {b['ok_rps']:>11.0f} {a['ok_rps']:>12.0f} {ratio:>6.2f}  "
            f"{b['p50']:>7.1f}/{b['p99']:<8.1f} {a['p50']:>8.1f}/{a['p99']:<8.1f} "
            f"{p99_ratio:>9.2f}{old}   {os.getloadavg()[0]:.1f}{flags}"
        )
    names = [n for n in ("app", "before") if n in urls]
    for connections in args.book_connections:
        book_runs: dict[str, list] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in names:
                run = wrk(binary, urls[name] + "/api/trace", book, connections, args.seconds)
                book_runs[name].append(run)
        for name in names:
            k = median_of(book_runs[name])
            per_worker = k["ok_rps"] / workers
            verdict = "ok" if per_worker >= 50 else "BELOW"
            print(
                f"  book preset, {connections} connections"
                f"{' (before)' if name == 'before' else ''}: {k['ok_rps']:.0f} traces/s "
                f"({per_worker:.0f} per worker, target 50: {verdict}), p50 {k['p50']:.1f} ms, "
                f"{k['non_2xx'] / args.seconds:.0f} busy 503s/s, load {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
