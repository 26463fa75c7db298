"""The training API of 5.7.4: the datasets, a whole run as JSON, and a run streamed as SSE.

The server keeps no session: a run is its settings, so ``POST /api/train``, the stream and
``POST /api/trace {"training": ...}`` (a replayed iteration) can each be answered by any worker.
A worker runs at most ``BPV_TRAIN_MAX_STREAMS`` runs at once (429 beyond). A stream trains in
slices of about ``STREAM_INTERVAL`` seconds in a worker thread, each slice one progress event,
so when the client goes away the run stops at the end of the slice it is in.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from backprop_viz.encoding import dumps
from backprop_viz.training.datasets import Dataset, available_datasets
from backprop_viz.training.loop import TrainingRun, finite_json, hidden_units, test_samples
from backprop_viz.training.replay import CHECKPOINTS
from backprop_viz.training.settings import (
    TrainingLimits,
    TrainRequest,
    TrainSettings,
    check_settings,
    limits_from_env,
)
from backprop_viz.web.errors import SafeJSONResponse, error_responses

router = APIRouter(prefix="/api", tags=["training"], default_response_class=SafeJSONResponse)

STREAM_INTERVAL = 0.1
"""Seconds of training per progress event (at most about ten events a second)."""
SNAPSHOT_INTERVAL = 0.5
"""Seconds between the hidden units' pictures sent with progress events."""

ERRORS = error_responses(422, 429)


class RunSlots:
    """A count of the runs in progress on this worker, capped."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take a slot, or raise the 429 that says why."""
        with self._lock:
            if self.in_use >= self.limit:
                raise HTTPException(
                    status_code=429,
                    detail=f"this worker is already running {self.limit} training run"
                    f"{'s' if self.limit != 1 else ''} (BPV_TRAIN_MAX_STREAMS); try again when "
                    "one ends",
                )
            self.in_use += 1

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1


@dataclass
class TrainingState:
    """What the training API keeps per app: its limits, the run slots, a log of streams."""

    limits: TrainingLimits
    slots: RunSlots
    streams: deque = field(default_factory=lambda: deque(maxlen=32))
    """How each finished stream ended: {"iterations": done, "completed": bool}."""


_STATE_LOCK = threading.Lock()
# Read when the app is imported, so a bad BPV_TRAIN_* value stops the server at start (as the
# limits of app/settings.py do), not a request later.
limits_from_env()


def training_state(request: Request) -> TrainingState:
    """The app's training state, made on first use from the environment's limits (a test may
    set ``app.state.training`` to its own before the first request)."""
    with _STATE_LOCK:
        state = getattr(request.app.state, "training", None)
        if state is None:
            limits = limits_from_env()
            state = TrainingState(limits, RunSlots(limits.max_streams))
            request.app.state.training = state
    return state


State = Annotated[TrainingState, Depends(training_state)]


class DatasetInfo(BaseModel):
    name: str = Field(description="Pass as 'dataset'.")
    available: bool
    source: str = Field(description="Where it comes from.")
    train_size: int | None
    test_size: int | None
    input_size: int = Field(description="Pixels per image: the net's input size.")
    image_shape: list[int]
    classes: int
    note: str | None = Field(description="Why it is not available, if it is not.")


class TrainResult(BaseModel):
    """A whole run: the loss of every iteration, the accuracies of every epoch."""

    settings: TrainSettings
    dataset: dict[str, Any] = Field(description="name, train_size, test_size, input_size...")
    iterations: int = Field(description="Iterations run.")
    iter_per_epoch: int = Field(description="max(train_size // batch_size, 1).")
    loss: list[float | str] = Field(
        description="loss[i]: the loss of batch i at the weights before update i (what the "
        "trace of iteration i shows); 'NaN' or 'Infinity' if the run diverged."
    )
    epochs: list[dict[str, Any]] = Field(
        description="{epoch, iteration, train_acc, test_acc}, measured after the update of "
        "iterations 0, iter_per_epoch, 2 * iter_per_epoch..."
    )
    train_acc: list[float]
    test_acc: list[float]
    final_train_acc: float = Field(description="After the last update.")
    final_test_acc: float
    seconds: float = Field(description="Time spent training, evaluations included.")
    iterations_per_second: float | None
    weights: dict[str, dict[str, Any]] = Field(
        description="Per parameter: shape, min, max, mean, std, norm."
    )
    hidden_units: list[list[list[float]]] = Field(
        description="The incoming weights of the first hidden units as images."
    )
    test_samples: list[dict[str, Any]] = Field(
        description="The first test images with their label and the prediction."
    )


@router.get("/datasets", response_model=list[DatasetInfo], responses=error_responses())
def list_datasets(state: State) -> list[dict[str, Any]]:
    """The datasets a run can use, with their sizes and shapes."""
    return available_datasets(state.limits.mnist_dir)


@router.post("/train", response_model=TrainResult, responses=ERRORS)
def train_network(settings: TrainRequest, state: State) -> Response:
    """Train the two-layer net (the book's ch05/train_neuralnet.py) and return the whole run."""
    dataset = check_settings(settings, state.limits)
    state.slots.acquire()
    try:
        run = TrainingRun(settings, dataset)
        run.advance(checkpoints=CHECKPOINTS)
        result = run.result()
    finally:
        state.slots.release()
    return Response(dumps(finite_json(result)), media_type="application/json")


@dataclass
class PreparedRun:
    settings: TrainSettings
    dataset: Dataset


def prepare_stream(
    settings: Annotated[TrainSettings, Query()], state: State
) -> PreparedRun:  # a dependency, so a bad setting is a 422 before any event is sent
    return PreparedRun(settings, check_settings(settings, state.limits))


@router.get(
    "/train/stream",
    # Not response_class=EventSourceResponse: FastAPI then expects a generator function, and
    # the 422 and 429 must be decided before the first event is sent.
    response_class=Response,
    response_model=None,
    responses={
        200: {
            "description": "Events: 'start' {settings, dataset, iter_per_epoch}; 'progress' "
            "{start, iteration, loss: the losses of iterations start..iteration, and every half "
            "second hidden_units and test_samples as in the result}; 'epoch' {epoch, "
            "iteration, train_acc, test_acc}; 'result': what POST /api/train returns.",
            "content": {"text/event-stream": {}},
        },
        **ERRORS,
    },
)
def stream_training(
    prepared: Annotated[PreparedRun, Depends(prepare_stream)], state: State
) -> EventSourceResponse:
    """The same run as POST /api/train, streamed as Server-Sent Events as it trains."""
    run = TrainingRun(prepared.settings, prepared.dataset)
    state.slots.acquire()  # released when the response ends, however it ends
    return TrainingStream(run, state)


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event whose data is JSON."""
    return format_sse_event(event=event, data_str=dumps(finite_json(data)).decode())


class TrainingStream(EventSourceResponse):
    """The events of one run; whatever ends the response (the last event, a disconnect),
    the run stops, its slot is freed and the way it ended is logged."""

    def __init__(self, run: TrainingRun, state: TrainingState):
        super().__init__(self.events(run), headers={"Cache-Control": "no-cache"})
        self.headers["X-Accel-Buffering"] = "no"  # no buffering in a proxy
        self.run = run
        self.state = state

    @staticmethod
    async def events(run: TrainingRun):
        data = run.dataset
        yield sse(
            "start",
            {
                "settings": run.settings.model_dump(),
                "dataset": {"name": data.name, "train_size": data.train_size},
                "iter_per_epoch": run.iter_per_epoch,
            },
        )
        sent = 0
        last_snapshot = None
        while not run.done:
            epochs = await anyio.to_thread.run_sync(
                partial(run.advance, seconds=STREAM_INTERVAL, checkpoints=CHECKPOINTS)
            )
            progress: dict[str, Any] = {
                "start": sent,
                "iteration": run.iteration - 1,
                "loss": run.loss[sent:],
            }
            now = anyio.current_time()
            if last_snapshot is None or now - last_snapshot >= SNAPSHOT_INTERVAL or run.done:
                progress["hidden_units"] = hidden_units(run.params, data)
                progress["test_samples"] = test_samples(run.params, data)
                last_snapshot = now
            sent = run.iteration
            yield sse("progress", progress)
            for epoch in epochs:
                yield sse("epoch", asdict(epoch))
        yield sse("result", await anyio.to_thread.run_sync(run.result))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            self.state.streams.append(
                {"iterations": self.run.iteration, "completed": self.run.done}
            )
            self.state.slots.release()
