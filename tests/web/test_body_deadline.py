"""The body's time limit (``web.guard.BodyDeadline``): one timer per request that interrupts a
read still waiting when it fires, and only such a read; another cancellation stays one."""

from __future__ import annotations

import asyncio

import pytest
from test_isolation import run_in_new_loop

from backprop_viz.web.guard import BodyDeadline, BodyDeadlinePassed

SOON = 0.05


def never_arrives():
    async def receive():
        await asyncio.sleep(3600)

    return receive


def arrives_after(seconds: float):
    async def receive():
        await asyncio.sleep(seconds)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    return receive


async def deadline_in(seconds: float) -> BodyDeadline:
    return BodyDeadline(asyncio.get_running_loop().time() + seconds)


def test_a_read_still_waiting_at_the_deadline_fails_and_leaves_the_task_uncancelled():
    async def main():
        deadline = await deadline_in(SOON)
        started = asyncio.get_running_loop().time()
        with pytest.raises(BodyDeadlinePassed):
            await deadline.read(never_arrives())
        waited = asyncio.get_running_loop().time() - started
        assert SOON * 0.9 <= waited < SOON + 0.5
        assert asyncio.current_task().cancelling() == 0  # the task goes on to answer the 408
        await asyncio.sleep(0)  # and is not cancelled at its next await

    run_in_new_loop(main)


def test_a_read_that_arrives_in_time_returns_its_message():
    async def main():
        deadline = await deadline_in(1.0)
        message = await deadline.read(arrives_after(SOON))
        assert message["body"] == b"{}"
        deadline.stop()

    run_in_new_loop(main)


def test_after_the_deadline_a_read_fails_at_once_even_if_none_was_waiting():
    async def main():
        deadline = await deadline_in(SOON)
        await deadline.read(arrives_after(0))  # arms the timer
        await asyncio.sleep(SOON * 2)  # the app busy between two reads of a body in parts
        started = asyncio.get_running_loop().time()
        with pytest.raises(BodyDeadlinePassed):
            await deadline.read(arrives_after(1.0))
        assert asyncio.get_running_loop().time() - started < 0.5

    run_in_new_loop(main)


def test_another_cancellation_during_a_read_stays_a_cancellation():
    async def main():
        deadline = await deadline_in(1.0)
        reader = asyncio.create_task(deadline.read(never_arrives()))
        await asyncio.sleep(SOON)
        reader.cancel()  # a client gone, a server shutting down
        with pytest.raises(asyncio.CancelledError):
            await reader
        deadline.stop()

    run_in_new_loop(main)


def test_a_cancellation_and_the_deadline_together_stay_a_cancellation():
    async def main():
        deadline = await deadline_in(SOON)
        reader = asyncio.create_task(deadline.read(never_arrives()))
        await asyncio.sleep(SOON / 2)
        reader.cancel()
        deadline.expire()  # the timer fires in the same turn
        with pytest.raises(asyncio.CancelledError):
            await reader

    run_in_new_loop(main)


def test_stopped_or_restarted_the_old_deadline_no_longer_applies():
    async def main():
        deadline = await deadline_in(SOON)
        await deadline.read(arrives_after(0))  # armed for SOON
        deadline.start(asyncio.get_running_loop().time() + 1.0)  # after a wait in line
        message = await deadline.read(arrives_after(SOON * 3))
        assert message["type"] == "http.request"
        deadline.stop()
        assert deadline.timer is None
        message = await deadline.read(arrives_after(0))
        deadline.stop()

        stopped = await deadline_in(SOON)
        await stopped.read(arrives_after(0))
        stopped.stop()  # the body is in
        await asyncio.sleep(SOON * 2)
        assert not stopped.passed

    run_in_new_loop(main)
