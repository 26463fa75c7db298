"""Short turns of the event loop: at most about ``TURN_BUDGET_SECONDS`` of requests between two
looks at the sockets, so a burst of new connections is accepted at once.

uvloop (libuv) accepts one new connection per turn of its loop, and a turn runs every request
that is ready. Tiny traces run on the loop itself (``web.limits``), about 0.2 ms each with
FastAPI's routing and validation, so under 64 connections a turn lasted ~13 ms, and 64 clients
connecting at once were accepted one per turn: the last one's first answer came after
0.4-0.7 s, while every request, once read, was answered within 21 ms (measured in the server).
That was apple's p99 at 64 connections on one worker, 4-7x the bare endpoint's
(bench/bench_http.py); the bare endpoint computes in threads, so its turns are short. (asyncio's
own loop accepts every waiting connection per turn, but under several workers uvloop's one per
turn is what spreads the connections between them, and uvloop costs less per request.)

So each HTTP request waits for its turn before the app sees it (``RequestGuard``): while the
current turn has run for less than the budget and no request waits, at once (a clock read);
otherwise it joins a line, and each turn wakes as many from its head as the last turns say fit
in the budget (at least one). The requests woken run in the next turn, after the loop has
looked at its sockets (accepting a connection, reading what arrived). First come, first served,
and every wait is bounded: a turn always wakes one, and a turn follows another while any wait.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

# A turn's work before the loop looks at its sockets again: about five tiny traces.
TURN_BUDGET_SECONDS = 0.001
# How much a new measurement moves the estimate of one request's share of a turn.
ESTIMATE_WEIGHT = 0.2


class Turns:
    """The turns of one event loop: when the current one started, what it let in, and the
    line of requests waiting for the next."""

    def __init__(self, budget: float):
        self.budget = budget
        self.started: float | None = None  # None: no turn is being timed
        self.admitted = 0
        self.per_request = budget / 4  # a first guess; each turn measures it
        self.line: deque[asyncio.Future] = deque()

    async def wait(self) -> None:
        """Return when this request may run: at once within the turn's budget, else at the
        head of the line in a later turn."""
        if not self.line:
            if self.started is None:
                self.start(time.perf_counter())
                self.admitted = 1
                return
            if time.perf_counter() - self.started < self.budget:
                self.admitted += 1
                return
        turn = asyncio.get_running_loop().create_future()
        self.line.append(turn)
        if self.started is None:  # nothing would end the turn and wake the line
            self.start(time.perf_counter())
        try:
            await turn
        except asyncio.CancelledError:
            if turn in self.line:  # not woken yet
                self.line.remove(turn)
            raise

    def start(self, now: float) -> None:
        self.started = now
        asyncio.get_running_loop().call_soon(self.end)  # after what is ready now: next turn

    def end(self) -> None:
        """The turn is over: measure it, and wake the head of the line for the next one."""
        now = time.perf_counter()
        if self.admitted and self.started is not None:
            share = (now - self.started) / self.admitted
            self.per_request += ESTIMATE_WEIGHT * (share - self.per_request)
        self.started = None
        self.admitted = 0
        if not self.line:
            return
        fit = max(1, int(self.budget / max(self.per_request, 1e-6)))
        while self.line and self.admitted < fit:
            turn = self.line.popleft()
            if not turn.done():  # not cancelled meanwhile
                turn.set_result(None)
                self.admitted += 1
        self.start(now)  # time the turn the woken requests run in


class LoopTurns:
    """``Turns`` for each event loop that serves the app (one in a worker; a test client may
    run several)."""

    def __init__(self, budget: float = TURN_BUDGET_SECONDS):
        self.budget = budget
        self._turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def wait(self) -> None:
        """Wait for this request's turn on the running loop (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = Turns(self.budget)
        await turns.wait()
