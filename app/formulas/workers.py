"""A few persistent worker processes for work that may not end: a job over its budget is
killed together with its process, and a fresh process takes the dead one's place.

sympy can run for ever on a small input (the evalf of an exp tower never returns, and a thread
cannot be stopped from outside), so the symbolic derivative runs here, not in the server's
threads. The workers are forked from multiprocessing's fork server, which imports the modules
named in ``preload`` once: a worker starts in milliseconds, and after the first job a formula
pays no process start at all. Forking the server itself is avoided on purpose: it has threads.

Each worker also runs under an address-space limit (its size at start plus ``memory_margin``
bytes), so a job that would take gigabytes gets a MemoryError in the worker instead.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

STARTUP_SECONDS = 10.0
"""How long a fresh worker may take to become ready. Only the first job of a server process
waits for that (the fork server imports sympy then); a replacement after a kill forks in
milliseconds."""


class Overtime(Exception):
    """The job did not finish within its budget (it was killed), or no worker was free in time."""

    def __init__(self, reason: str, *, killed: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.killed = killed


class WorkerFailed(Exception):
    """The job raised in the worker (its exception's type and message), or the worker died."""


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _limit_memory(margin: int) -> None:
    """Cap this process's address space at its present size plus ``margin`` (Linux only)."""
    try:
        import os
        import resource

        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + margin
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, ImportError):  # pragma: no cover - not Linux
        pass


def _serve(
    connection: Any,
    memory_margin: int,
    preload: Sequence[str],
    initializer: Callable[[], Any] | None,
) -> None:
    """The worker's loop: prepare, announce readiness, then run one (function, args) job at a
    time."""
    import importlib

    for name in preload:  # already imported when forked from the fork server; not with spawn
        importlib.import_module(name)
    if initializer is not None:
        initializer()
    _limit_memory(memory_margin)
    connection.send(("ready", None))
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return  # the server went away
        try:
            reply = ("ok", function(*args))
        except MemoryError:
            reply = ("error", "MemoryError: the job needed more memory than a worker may use")
        except Exception as e:  # the job's own failure goes back to the caller as text
            reply = ("error", f"{type(e).__name__}: {e}"[:500])
        connection.send(reply)


class _Worker:
    def __init__(self, context: Any, pool: KillableWorkers):
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, pool.memory_margin, pool.preload, pool.initializer),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, seconds: float) -> bool:
        if not self.ready and self.connection.poll(seconds):
            try:
                self.ready = self.connection.recv()[0] == "ready"
            except (EOFError, OSError):
                return False
        return self.ready

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.connection.close()


class KillableWorkers:
    """At most ``size`` worker processes, started on demand; thread-safe.

    ``run(function, args, budget)`` gives the job to an idle worker and waits at most
    ``budget`` seconds in all (including the wait for a free worker); past it the worker is
    killed and replaced, and ``Overtime`` is raised. ``function`` must be importable by name
    (it is pickled by reference), and ``args`` plain data: the worker receives no code.

    ``preload`` names modules the fork server imports once for all workers (importing one may
    warm caches up), ``initializer`` runs in each worker before it says it is ready; neither
    counts against a job's budget.
    """

    def __init__(
        self,
        size: int = 2,
        *,
        memory_margin: int = 512 * 1024 * 1024,
        preload: Sequence[str] = (),
        initializer: Callable[[], Any] | None = None,
    ):
        self.size = size
        self.memory_margin = memory_margin
        self.preload = tuple(preload)
        self.initializer = initializer
        self._context = None
        self._idle: list[_Worker] = []
        self._count = 0
        self._available = threading.Condition()
        self._context_lock = threading.Lock()
        self.kills = 0
        """How many jobs were killed for running over their budget (for tests and logs)."""

    def run(self, function: Callable[..., Any], args: tuple, budget: float) -> Any:
        """The job's result; Overtime past the budget; WorkerFailed if it raised or died."""
        deadline = time.monotonic() + budget
        worker, starting = self._take(deadline)
        deadline += starting  # a fresh worker's start is not the job's time
        try:
            worker.connection.send((function, args))
            finished = worker.connection.poll(max(0.0, deadline - time.monotonic()))
            reply = worker.connection.recv() if finished else None
        except (EOFError, OSError, BrokenPipeError):
            self._replace(worker)
            raise WorkerFailed("the worker process died") from None
        if reply is None:
            with self._available:
                self.kills += 1
            self._replace(worker)
            raise Overtime(f"more than {budget:g} s", killed=True)
        self._give_back(worker)
        status, value = reply
        if status != "ok":
            raise WorkerFailed(value)
        return value

    def _take(self, deadline: float) -> tuple[_Worker, float]:
        """An idle worker (or a new one while fewer than ``size`` exist), and how long it took
        to become ready."""
        with self._available:
            while not self._idle and self._count >= self.size:
                left = deadline - time.monotonic()
                if left <= 0 or not self._available.wait(left):
                    if not self._idle:
                        raise Overtime("every worker was busy")
            if self._idle:
                worker = self._idle.pop()
            else:
                self._count += 1
                worker = None
        # A fresh worker's first job also waits for it to start: long only for the fork
        # server's first start (Process.start() waits while it imports sympy), so not counted
        # against the job's budget.
        start = time.monotonic()
        if worker is None:
            try:
                worker = self._start()
            except BaseException:
                self._forget()
                raise
        if not worker.wait_ready(STARTUP_SECONDS):
            worker.kill()
            self._forget()
            raise Overtime("the worker process did not start")
        return worker, time.monotonic() - start

    def _start(self) -> _Worker:
        with self._context_lock:
            if self._context is None:
                self._context = _context()
                if self.preload and self._context.get_start_method() == "forkserver":
                    self._context.set_forkserver_preload(list(self.preload))
        return _Worker(self._context, self)

    def _give_back(self, worker: _Worker) -> None:
        with self._available:
            self._idle.append(worker)
            self._available.notify()

    def _forget(self) -> None:
        with self._available:
            self._count -= 1
            self._available.notify()

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker and start its successor at once, so the next job finds it ready."""
        worker.kill()
        try:
            successor = self._start()
        except OSError:
            self._forget()
            return
        self._give_back(successor)

    def close(self) -> None:
        """Stop every idle worker (busy ones stop when their server goes away)."""
        with self._available:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()
