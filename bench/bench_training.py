"""Training benchmarks (5.7.4) on digits, 64-50-10, batch 100; prints ratios and accuracies.

(a) 10,000 iterations: the project's loop (TrainingRun on the book's layers) versus a plain
    NumPy loop of the same network (same weights, batches, SGD and per-epoch accuracies),
    interleaved, medians of several rounds; and the accuracy each reaches;
(b) backprop versus the numerical gradient on a small net: iterations per second of each;
(c) replay latency of POST /api/trace for the last iteration (index 9,999) of the book's run,
    each the first request of a fresh process (a worker that has answered nothing yet), rounds
    interleaved: the old path (the whole loop from 0, no checkpoint file), the lean loop from 0
    (no checkpoint file), and from the checkpoint files a training run in another process left
    (``POST /api/train`` there); the dataset's first load is timed on its own. Then warm: in
    the process that just trained.
(d) what writing checkpoints costs a 10,000-iteration run: none, in memory only (before the
    files), in memory and in files, interleaved in slices as in (a).

The plain loop computes dx of the first Affine too, as the book's Affine.backward does (so
does bench_engine.py's); the ratio to a loop that skips it is printed as well.
BLAS runs on one thread by default (--blas-threads): at these sizes (100 x 64 x 50) a second
thread only adds waiting, and on a shared machine OpenBLAS's spinning threads make every
figure noisy.
Run: python bench/bench_training.py [--rounds 5] [--iters 10000] [--blas-threads 1] [--only c]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_limits

from backprop_viz.core.layers import log_softmax
from backprop_viz.settings import Settings
from backprop_viz.training.checkpoints import Checkpoints, DiskCheckpoints
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.replay import CHECKPOINTS
from backprop_viz.training.settings import MIB, TrainSettings
from backprop_viz.web.app import create_app


class PlainNumpyRun:
    """The book's train_neuralnet.py with TwoLayerNet written out in NumPy, steppable like
    TrainingRun so the two can be timed in alternating slices."""

    def __init__(self, settings: TrainSettings, data, with_dx: bool = True):
        self.settings, self.data, self.with_dx = settings, data, with_dx
        self.rng = np.random.RandomState(settings.seed)
        self.W1 = settings.weight_init_std * self.rng.randn(data.input_size, settings.hidden_size)
        self.b1 = np.zeros(settings.hidden_size)
        self.W2 = settings.weight_init_std * self.rng.randn(settings.hidden_size, data.classes)
        self.b2 = np.zeros(data.classes)
        self.iter_per_epoch = max(data.train_size // settings.batch_size, 1)
        self.iteration = 0
        self.loss: list[float] = []

    def accuracy(self, x, t) -> float:
        scores = np.maximum(x @ self.W1 + self.b1, 0) @ self.W2 + self.b2
        return float(np.mean(np.argmax(scores, axis=1) == t))

    def advance(self, until: int) -> None:
        data, batch_size, lr = self.data, self.settings.batch_size, self.settings.learning_rate
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        for i in range(self.iteration, until):
            batch_mask = self.rng.choice(data.train_size, batch_size)
            x, t = data.x_train[batch_mask], data.t_train_one_hot[batch_mask]
            a1 = x @ W1 + b1
            h = np.maximum(a1, 0)
            log_y = log_softmax(h @ W2 + b2)
            self.loss.append(float(-np.sum(t * log_y) / batch_size))
            dy = (np.exp(log_y) - t) / batch_size
            dW2, db2 = h.T @ dy, dy.sum(axis=0)
            da1 = np.where(a1 > 0, dy @ W2.T, 0.0)
            dW1, db1 = x.T @ da1, da1.sum(axis=0)
            if self.with_dx:
                da1 @ W1.T  # the book's Affine.backward computes dx of the first layer too
            W1 -= lr * dW1
            b1 -= lr * db1
            W2 -= lr * dW2
            b2 -= lr * db2
            if i % self.iter_per_epoch == 0:
                self.accuracy(data.x_train, data.t_train), self.accuracy(data.x_test, data.t_test)
        self.iteration = until


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_loop(rounds: int, iters: int, slice_size: int = 250) -> None:
    """Each round: the three loops of ``iters`` iterations, advanced in alternating slices of
    ``slice_size`` iterations, so a change in the machine's load hits all three alike."""
    data = load_dataset("digits")
    settings = TrainSettings(iters_num=iters)
    times: dict[str, list[float]] = {"project": [], "plain": [], "plain, no dx": []}
    for _ in range(rounds):
        runs = {
            "project": TrainingRun(settings, data),
            "plain": PlainNumpyRun(settings, data),
            "plain, no dx": PlainNumpyRun(settings, data, with_dx=False),
        }
        spent = dict.fromkeys(runs, 0.0)
        for until in range(slice_size, iters + slice_size, slice_size):
            for name, run in runs.items():
                seconds, _ = timed(partial(run.advance, until=min(until, iters)))
                spent[name] += seconds
        for name in runs:
            times[name].append(spent[name])
        result = runs["project"].result()
        plain = runs["plain"]
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"(a) {iters} iterations on digits (64-50-10, batch 100), medians of {rounds} rounds:")
    for name, seconds in median.items():
        print(f"    {name:<13} {seconds:6.2f} s  {iters / seconds:7.0f} it/s")
    print(f"    project / plain NumPy:        {median['project'] / median['plain']:.2f}x")
    print(f"    project / plain without dx1:  {median['project'] / median['plain, no dx']:.2f}x")
    gap = np.max(np.abs(np.array(result["loss"]) - np.array(plain.loss)))
    print(f"    largest loss difference project vs plain: {gap:.1e}")
    plain_test_acc = plain.accuracy(data.x_test, data.t_test)
    print(
        f"    accuracy reached: train {result['final_train_acc']:.4f}, test "
        f"{result['final_test_acc']:.4f} (plain NumPy: test {plain_test_acc:.4f})"
    )


def bench_numerical(rounds: int) -> None:
    data = load_dataset("digits")
    small = dict(hidden_size=5, batch_size=10)
    rates: dict[str, list[float]] = {"backprop": [], "numerical": []}
    for _ in range(rounds):
        for gradient, iters in (("backprop", 2000), ("numerical", 10)):
            run = TrainingRun(TrainSettings(**small, iters_num=iters, gradient=gradient), data)
            seconds, _ = timed(lambda run=run: run.advance(evaluate=False))
            rates[gradient].append(iters / seconds)
    median = {k: statistics.median(v) for k, v in rates.items()}
    parameters = (64 + 1) * 5 + (5 + 1) * 10
    print(f"(b) a small net (64-5-10, {parameters} parameters, batch 10), medians of {rounds}:")
    print(f"    backprop  {median['backprop']:9.1f} it/s")
    print(f"    numerical {median['numerical']:9.1f} it/s")
    print(f"    backprop is {median['backprop'] / median['numerical']:.0f}x faster")


def old_fast_forward(run: TrainingRun, until: int, checkpoints=None) -> None:
    """The replay's loop before the lean one: the training loop without the accuracies."""
    run.advance(until=until, evaluate=False, checkpoints=checkpoints)


def probe(mode: str, iters: int) -> None:
    """In a fresh process (this one): the first training request, timed; prints JSON.
    ``train``: POST /api/train (leaving checkpoint files); ``old``: the replay as it was;
    ``new``: the replay as it is (from whatever checkpoint files BPV_TRAIN_CACHE_DIR holds)."""
    if mode == "old":
        TrainingRun.fast_forward = old_fast_forward
    client = TestClient(create_app(Settings()))
    dataset_seconds, _ = timed(lambda: load_dataset("digits"))
    if mode == "train":
        request = ("/api/train", {"iters_num": iters})
    else:
        request = ("/api/trace", {"training": {"iters_num": iters, "iteration": iters - 1}})
    seconds, r = timed(lambda: client.post(request[0], json=request[1]))
    assert r.status_code == 200, r.text
    loss = r.json()["loss"][-1] if mode == "train" else r.json()["values"]["loss"]
    print(json.dumps({"dataset": dataset_seconds, "request": seconds, "loss": repr(loss)}))


def in_fresh_process(mode: str, iters: int, blas_threads: int, cache_dir: Path) -> dict:
    env = {**os.environ, "BPV_TRAIN_CACHE_DIR": str(cache_dir)}
    if mode == "old":
        env["BPV_TRAIN_CACHE_MAX_MB"] = "0"  # no files: what a fresh worker had
    command = [sys.executable, __file__, "--probe", mode, "--iters", str(iters)]
    command += ["--blas-threads", str(blas_threads)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def bench_replay(rounds: int, iters: int, blas_threads: int) -> None:
    names = ("old, from 0", "lean, from 0", "lean, from files")
    requests: dict[str, list[float]] = {name: [] for name in names}
    datasets: dict[str, list[float]] = {name: [] for name in names}
    losses = set()
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            empty, filled = Path(scratch, f"empty{round_}"), Path(scratch, f"filled{round_}")
            trained = in_fresh_process("train", iters, blas_threads, filled)
            cases = zip(names, ("old", "new", "new"), (empty, empty, filled), strict=True)
            for name, mode, folder in cases:
                result = in_fresh_process(mode, iters, blas_threads, folder)
                requests[name].append(result["request"])
                datasets[name].append(result["dataset"])
                losses.add(result["loss"])
            losses.add(trained["loss"])
    median = {k: statistics.median(v) for k, v in requests.items()}
    load = {k: statistics.median(v) for k, v in datasets.items()}
    print(
        f"(c) POST /api/trace of iteration {iters - 1} (the last of {iters}) as the first "
        f"request of a fresh process, medians of {rounds} interleaved rounds (the dataset's "
        "first load timed apart: scikit-learn's import, or the file the training run left):"
    )
    for name, seconds in median.items():
        print(
            f"    {name:<17} {seconds:6.3f} s   dataset {load[name]:6.3f} s   "
            f"both {seconds + load[name]:6.3f} s"
        )
    old, old_total = median["old, from 0"], median["old, from 0"] + load["old, from 0"]
    for name in names[1:]:
        total = median[name] + load[name]
        print(f"    {name} / old: {median[name] / old:.3f}x (both: {total / old_total:.3f}x)")
    same = "the same in every process" if len(losses) == 1 else f"DIFFERENT: {sorted(losses)}"
    print(f"    the loss of iteration {iters - 1}: {same} ({next(iter(losses))})")

    client = TestClient(create_app(Settings()))
    body = {"training": {"iters_num": iters, "iteration": iters - 1}}
    warm = []
    for _ in range(rounds):
        CHECKPOINTS.clear()
        assert client.post("/api/train", json={"iters_num": iters}).status_code == 200
        seconds, r = timed(lambda: client.post("/api/trace", json=body))
        assert r.status_code == 200, r.text
        warm.append(seconds)
    print(f"    warm (after POST /api/train in the same process): {statistics.median(warm):.3f} s")


def timed_save(save, spent: list[float], run) -> None:
    start = time.perf_counter()
    save(run)
    spent.append(time.perf_counter() - start)


def bench_checkpoint_cost(rounds: int, iters: int, slice_size: int = 250) -> None:
    """A training run with no checkpoints, with them in memory only, and in memory and in
    files, advanced in alternating slices (as in bench_loop)."""
    data = load_dataset("digits")
    settings = TrainSettings(iters_num=iters)
    names = ("none", "memory", "memory and files")
    times: dict[str, list[float]] = {name: [] for name in names}
    saving: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            disk = DiskCheckpoints(Path(scratch, str(round_)), 256 * MIB)
            caches = {"none": None, "memory": Checkpoints(), "memory and files": Checkpoints(disk)}
            for name in ("memory", "memory and files"):
                caches[name].save = partial(timed_save, caches[name].save, saving[name])
            runs = {name: TrainingRun(settings, data) for name in names}
            spent = dict.fromkeys(names, 0.0)
            for until in range(slice_size, iters + slice_size, slice_size):
                for name, run in runs.items():
                    advance = partial(
                        run.advance, until=min(until, iters), checkpoints=caches[name]
                    )
                    spent[name] += timed(advance)[0]
            for name in names:
                times[name].append(spent[name])
            written = len(list(Path(scratch, str(round_)).glob("*.npz")))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"(d) {iters} iterations of training, with and without checkpoints, medians of {rounds}:")
    for name, seconds in median.items():
        print(f"    {name:<17} {seconds:6.2f} s")
    print(f"    memory / none:            {median['memory'] / median['none']:.3f}x")
    for name in ("memory", "memory and files"):
        spent = sum(saving[name]) / rounds
        print(
            f"    time inside Checkpoints.save, {name}: {spent * 1e3:.1f} ms a run, "
            f"{spent / median[name]:.2%} of it"
        )
    print(
        f"    memory and files / none:  {median['memory and files'] / median['none']:.3f}x "
        f"({written} files a run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10_000)
    parser.add_argument("--blas-threads", type=int, default=1, help="0: the library's default")
    parser.add_argument("--only", choices=["a", "b", "c", "d"], action="append")
    parser.add_argument("--probe", choices=["train", "old", "new"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    with threadpool_limits(args.blas_threads or None, user_api="blas"):
        if args.probe:
            probe(args.probe, args.iters)
            return
        print(f"BLAS threads: {args.blas_threads or 'default'}; load average {os.getloadavg()}")
        parts = args.only or ["a", "b", "c", "d"]
        if "a" in parts:
            bench_loop(args.rounds, args.iters)
        if "b" in parts:
            bench_numerical(args.rounds)
        if "c" in parts:
            bench_replay(args.rounds, args.iters, args.blas_threads)
        if "d" in parts:
            bench_checkpoint_cost(args.rounds, args.iters)
        print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
