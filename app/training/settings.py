"""What a training run may ask for: its settings (the book's names) and the server's limits.

``TrainSettings`` is the run: the same object for ``POST /api/train``, the query of
``GET /api/train/stream``, ``"training"`` in ``POST /api/trace`` and ``backprop-viz train``.
Its static bounds are in the schema (so /docs shows them); the bounds that depend on the
machine (``BPV_TRAIN_*`` limits) or on the dataset (a batch larger than the data, MNIST absent)
are checked by ``check_settings``, which raises the project's ``GraphError`` naming the field.

The limits live here rather than in app/settings.py (the general request limits) so that this
package stays one piece; they are read from the environment once per process.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from backprop_viz.core.graph import GraphError
from backprop_viz.settings import SettingsError, check_bounds, parse_setting

if TYPE_CHECKING:
    from backprop_viz.training.datasets import Dataset

# Hard ceilings of the schema; the configurable limits below are checked after parsing.
SCHEMA_MAX_ITERS = 1_000_000
SCHEMA_MAX_HIDDEN = 100_000


class TrainSettings(BaseModel):
    """One training run of the book's ch05/train_neuralnet.py; the defaults are the book's."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        default="digits",
        max_length=40,
        description="'digits' (scikit-learn's 8x8 handwritten digits, always available) or "
        "'mnist' (when the server has it in BPV_MNIST_DIR); see GET /api/datasets.",
    )
    hidden_size: int = Field(
        default=50, ge=1, le=SCHEMA_MAX_HIDDEN, description="Hidden units (BPV_TRAIN_MAX_HIDDEN)."
    )
    learning_rate: float = Field(
        default=0.1, gt=0, le=100, allow_inf_nan=False, description="The SGD step size."
    )
    batch_size: int = Field(
        default=100,
        ge=1,
        le=SCHEMA_MAX_ITERS,
        description="Samples per mini-batch (at most the training set).",
    )
    iters_num: int = Field(
        default=10_000,
        ge=1,
        le=SCHEMA_MAX_ITERS,
        description="Iterations (mini-batches) to train (BPV_TRAIN_MAX_ITERS).",
    )
    weight_init_std: float = Field(
        default=0.01,
        gt=0,
        le=10,
        allow_inf_nan=False,
        description="Weights start as weight_init_std * randn; biases start at zero.",
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seeds the weights and the batches: the same seed gives the same run.",
    )
    gradient: Literal["backprop", "numerical"] = Field(
        default="backprop",
        description="'backprop' (5.7) or 'numerical' (4.4, the central difference: tiny "
        "networks only, see BPV_TRAIN_NUMERICAL_*).",
    )


class TrainRequest(TrainSettings):
    """The settings as a JSON body: no coercion (false is not the seed 0), so the server takes
    exactly what the published schema says. (The stream's query parameters are text, so they
    keep ``TrainSettings``' conversion.)"""

    model_config = ConfigDict(extra="forbid", strict=True)


class TrainTraceSettings(TrainRequest):
    """A run's settings and one of its iterations, for ``"training"`` in POST /api/trace."""

    iteration: int = Field(
        default=0,
        ge=0,
        le=SCHEMA_MAX_ITERS,
        description="Which iteration to trace, counted from 0 as the index of the loss "
        "curve: its batch and the weights before its update.",
    )

    def run_settings(self) -> TrainSettings:
        """The run without the iteration (what replays share)."""
        return TrainSettings(**self.model_dump(exclude={"iteration"}))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


MIB = 1024 * 1024
CACHE_MAX_MB_BOUNDS = (0, 1024 * 1024)  # 0 turns the disk cache off; at most 1 TiB


def _env_bounded_int(name: str, default: int, low: int, high: int) -> int:
    """An integer setting read as app/settings.py reads its own (``parse_setting``,
    ``check_bounds``): set but empty, not an integer, or out of [low, high] is a
    ``SettingsError`` naming it."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = parse_setting(name, raw, "int")
    check_bounds(name, value, "int", {"low": low, "high": high})
    return value


def default_cache_dir() -> str:
    """``<temp dir>/backprop-viz-<uid>/checkpoints``: one per user, shared by that user's
    worker processes (and refused by them if another user made it). The uid, not the user
    name, which comes from the environment."""
    if hasattr(os, "getuid"):
        owner = str(os.getuid())
    else:  # Windows: the temp dir is the user's own already
        owner = "".join(c if c.isalnum() else "_" for c in getpass.getuser())[:64]
    return str(Path(tempfile.gettempdir()) / f"backprop-viz-{owner}" / "checkpoints")


def _env_cache_dir(name: str) -> str:
    """BPV_TRAIN_CACHE_DIR: an absolute folder that is, or can be made, a writable folder."""
    raw = os.environ.get(name)
    if raw is None:
        return default_cache_dir()
    if not raw.strip():
        raise SettingsError(f"{name} is set but empty; unset it for the default or give a folder")
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        # Relative to what? Each worker's working directory: say it instead.
        raise SettingsError(f"{name} must be an absolute path, got {raw[:80]!r}")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name} {str(path)[:80]!r} exists and is not a folder")
    existing = path
    while not existing.exists():  # the folder is made on first use: its parent must allow it
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(
            f"{name} {str(path)[:80]!r} cannot be made: {str(existing)[:80]!r} is not writable"
        )
    return str(path)


@dataclass(frozen=True)
class TrainingLimits:
    """What one run may cost, and where MNIST is; each an environment variable."""

    max_iters: int = 20_000
    """BPV_TRAIN_MAX_ITERS: iterations of one run (the book's run is 10,000)."""
    max_hidden_size: int = 1000
    """BPV_TRAIN_MAX_HIDDEN: hidden units."""
    max_work: int = 60_000_000_000
    """BPV_TRAIN_MAX_WORK: iters_num * batch_size * parameters, about the multiply-adds of a
    run (the book's MNIST run is 4e10; the default digits run 4e9)."""
    numerical_max_hidden_size: int = 10
    """BPV_TRAIN_NUMERICAL_MAX_HIDDEN: hidden units with gradient 'numerical'."""
    numerical_max_iters: int = 100
    """BPV_TRAIN_NUMERICAL_MAX_ITERS: iterations with gradient 'numerical'."""
    numerical_max_parameters: int = 1000
    """BPV_TRAIN_NUMERICAL_MAX_PARAMS: weights and biases with gradient 'numerical' (two
    forward passes each per iteration)."""
    max_streams: int = 2
    """BPV_TRAIN_MAX_STREAMS: training runs at once per worker (streams and POST /api/train);
    one more gets 429."""
    mnist_dir: str | None = None
    """BPV_MNIST_DIR: a folder holding MNIST (IDX files, the book's mnist.pkl or mnist.npz)."""
    cache_dir: str = field(default_factory=default_cache_dir)
    """BPV_TRAIN_CACHE_DIR: the folder of the replays' checkpoints, shared by every worker
    process (an absolute path; default ``<temp dir>/backprop-viz-<uid>/checkpoints``)."""
    cache_max_mb: int = 256
    """BPV_TRAIN_CACHE_MAX_MB: MiB the checkpoint files may take (least recently used evicted
    first); 0 turns the disk cache off."""

    @classmethod
    def from_env(cls) -> TrainingLimits:
        mnist_dir = os.environ.get("BPV_MNIST_DIR", "").strip() or None
        return cls(
            max_iters=_env_int("BPV_TRAIN_MAX_ITERS", cls.max_iters),
            max_hidden_size=_env_int("BPV_TRAIN_MAX_HIDDEN", cls.max_hidden_size),
            max_work=_env_int("BPV_TRAIN_MAX_WORK", cls.max_work),
            numerical_max_hidden_size=_env_int(
                "BPV_TRAIN_NUMERICAL_MAX_HIDDEN", cls.numerical_max_hidden_size
            ),
            numerical_max_iters=_env_int("BPV_TRAIN_NUMERICAL_MAX_ITERS", cls.numerical_max_iters),
            numerical_max_parameters=_env_int(
                "BPV_TRAIN_NUMERICAL_MAX_PARAMS", cls.numerical_max_parameters
            ),
            max_streams=_env_int("BPV_TRAIN_MAX_STREAMS", cls.max_streams),
            mnist_dir=str(Path(mnist_dir).expanduser()) if mnist_dir else None,
            cache_dir=_env_cache_dir("BPV_TRAIN_CACHE_DIR"),
            cache_max_mb=_env_bounded_int(
                "BPV_TRAIN_CACHE_MAX_MB", cls.cache_max_mb, *CACHE_MAX_MB_BOUNDS
            ),
        )


@cache
def limits_from_env() -> TrainingLimits:
    """The process's limits, read once."""
    return TrainingLimits.from_env()


def parameter_count(input_size: int, hidden_size: int, output_size: int) -> int:
    """Weights and biases of the two-layer net."""
    return (input_size + 1) * hidden_size + (hidden_size + 1) * output_size


def check_settings(
    settings: TrainSettings, limits: TrainingLimits, iteration: int | None = None
) -> Dataset:
    """The dataset the run trains on, after every check that needs the limits or the data.

    Raises ``GraphError`` (a 422 naming the field) for anything the run cannot do.
    """
    from backprop_viz.training.datasets import load_dataset

    s = settings
    if s.iters_num > limits.max_iters:
        raise GraphError(
            f"iters_num: {s.iters_num} is more than the limit of {limits.max_iters} "
            "(BPV_TRAIN_MAX_ITERS)",
            field="iters_num",
        )
    if iteration is not None and iteration >= s.iters_num:
        raise GraphError(
            f"iteration: {iteration} is not an iteration of a run of iters_num={s.iters_num} "
            f"(iterations are counted from 0 to {s.iters_num - 1})",
            field="iteration",
        )
    if s.hidden_size > limits.max_hidden_size:
        raise GraphError(
            f"hidden_size: {s.hidden_size} is more than the limit of {limits.max_hidden_size} "
            "(BPV_TRAIN_MAX_HIDDEN)",
            field="hidden_size",
        )
    dataset = load_dataset(s.dataset, limits.mnist_dir)  # GraphError on field 'dataset'
    if s.batch_size > dataset.train_size:
        raise GraphError(
            f"batch_size: {s.batch_size} is larger than the {dataset.train_size} training "
            f"samples of {s.dataset!r}",
            field="batch_size",
        )
    parameters = parameter_count(dataset.input_size, s.hidden_size, dataset.classes)
    work = s.iters_num * s.batch_size * parameters
    if work > limits.max_work:
        raise GraphError(
            f"iters_num: {s.iters_num} iterations of batch {s.batch_size} on {parameters} "
            f"parameters is about {work:.1e} multiply-adds, more than the limit of "
            f"{limits.max_work:.1e} (BPV_TRAIN_MAX_WORK): lower iters_num, batch_size or "
            "hidden_size",
            field="iters_num",
        )
    if s.gradient == "numerical":
        if s.hidden_size > limits.numerical_max_hidden_size:
            raise GraphError(
                f"hidden_size: {s.hidden_size} is more than {limits.numerical_max_hidden_size}, "
                "the limit with gradient 'numerical' (BPV_TRAIN_NUMERICAL_MAX_HIDDEN): the "
                "numerical gradient runs two forward passes per parameter",
                field="hidden_size",
            )
        if s.iters_num > limits.numerical_max_iters:
            raise GraphError(
                f"iters_num: {s.iters_num} is more than {limits.numerical_max_iters}, the limit "
                "with gradient 'numerical' (BPV_TRAIN_NUMERICAL_MAX_ITERS)",
                field="iters_num",
            )
        if parameters > limits.numerical_max_parameters:
            raise GraphError(
                f"gradient: 'numerical' on {parameters} parameters is more than the limit of "
                f"{limits.numerical_max_parameters} (BPV_TRAIN_NUMERICAL_MAX_PARAMS): use a "
                "smaller hidden_size, the digits dataset, or 'backprop'",
                field="gradient",
            )
    return dataset
