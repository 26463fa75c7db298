"""Training benchmarks (5.7.4) on digits, 64-50-10, batch 100; prints ratios and accuracies.

(a) 10,000 iterations: the project's loop (TrainingRun on the book's layers) versus a plain
    NumPy loop of the same network (same weights, batches, SGD and per-epoch accuracies),
    interleaved, medians of several rounds; and the accuracy each reaches;
(b) backprop versus the numerical gradient on a small net: iterations per second of each;
(c) replay latency of POST /api/trace for the last iteration (index 9,999) of the book's run:
    cold (no checkpoint) and warm (after POST /api/train of the same run, as the page does).

The plain loop computes dx of the first Affine too, as the book's Affine.backward does (so
does bench_engine.py's); the ratio to a loop that skips it is printed as well.
BLAS runs on one thread by default (--blas-threads): at these sizes (100 x 64 x 50) a second
thread only adds waiting, and on a shared machine OpenBLAS's spinning threads make every
figure noisy. Run: python bench/bench_training.py [--rounds 5] [--iters 10000] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_limits

from backprop_viz.core.layers import log_softmax
from backprop_viz.settings import Settings
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.replay import CHECKPOINTS
from backprop_viz.training.settings import TrainSettings
from backprop_viz.web.app import create_app


def plain_numpy_run(settings: TrainSettings, data, with_dx: bool = True) -> tuple[list, float]:
    """The book's train_neuralnet.py with TwoLayerNet written out in NumPy: the losses and
    the final test accuracy."""
    rng = np.random.RandomState(settings.seed)
    W1 = settings.weight_init_std * rng.randn(data.input_size, settings.hidden_size)
    b1 = np.zeros(settings.hidden_size)
    W2 = settings.weight_init_std * rng.randn(settings.hidden_size, data.classes)
    b2 = np.zeros(data.classes)
    n, batch_size, lr = data.train_size, settings.batch_size, settings.learning_rate
    iter_per_epoch = max(n // batch_size, 1)
    x_train, t_train = data.x_train, data.t_train_one_hot

    def accuracy(x, t):
        scores = np.maximum(x @ W1 + b1, 0) @ W2 + b2
        return float(np.mean(np.argmax(scores, axis=1) == t))

    losses = []
    for i in range(settings.iters_num):
        batch_mask = rng.choice(n, batch_size)
        x, t = x_train[batch_mask], t_train[batch_mask]
        a1 = x @ W1 + b1
        h = np.maximum(a1, 0)
        log_y = log_softmax(h @ W2 + b2)
        losses.append(float(-np.sum(t * log_y) / batch_size))
        dy = (np.exp(log_y) - t) / batch_size
        dW2, db2 = h.T @ dy, dy.sum(axis=0)
        da1 = np.where(a1 > 0, dy @ W2.T, 0.0)
        dW1, db1 = x.T @ da1, da1.sum(axis=0)
        if with_dx:
            da1 @ W1.T  # the book's Affine.backward computes dx of the first layer too
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        if i % iter_per_epoch == 0:
            accuracy(data.x_train, data.t_train), accuracy(data.x_test, data.t_test)
    return losses, accuracy(data.x_test, data.t_test)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_loop(rounds: int, iters: int) -> None:
    data = load_dataset("digits")
    settings = TrainSettings(iters_num=iters)
    times: dict[str, list[float]] = {"project": [], "plain": [], "plain, no dx": []}
    for _ in range(rounds):
        run = TrainingRun(settings, data)
        seconds, _ = timed(run.advance)
        times["project"].append(seconds)
        result = run.result()
        seconds, (plain_losses, plain_test_acc) = timed(lambda: plain_numpy_run(settings, data))
        times["plain"].append(seconds)
        seconds, _ = timed(lambda: plain_numpy_run(settings, data, with_dx=False))
        times["plain, no dx"].append(seconds)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"(a) {iters} iterations on digits (64-50-10, batch 100), medians of {rounds} rounds:")
    for name, seconds in median.items():
        print(f"    {name:<13} {seconds:6.2f} s  {iters / seconds:7.0f} it/s")
    print(f"    project / plain NumPy:        {median['project'] / median['plain']:.2f}x")
    print(f"    project / plain without dx1:  {median['project'] / median['plain, no dx']:.2f}x")
    gap = np.max(np.abs(np.array(result["loss"]) - np.array(plain_losses)))
    print(f"    largest loss difference project vs plain: {gap:.1e}")
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


def bench_replay(rounds: int, iters: int) -> None:
    client = TestClient(create_app(Settings()))
    body = {"training": {"iters_num": iters, "iteration": iters - 1}}
    cold, warm = [], []
    for _ in range(rounds):
        CHECKPOINTS.clear()
        seconds, r = timed(lambda: client.post("/api/trace", json=body))
        assert r.status_code == 200, r.text
        cold.append(seconds)
        CHECKPOINTS.clear()
        assert client.post("/api/train", json={"iters_num": iters}).status_code == 200
        seconds, r = timed(lambda: client.post("/api/trace", json=body))
        assert r.status_code == 200, r.text
        warm.append(seconds)
    print(
        f"(c) POST /api/trace of iteration {iters - 1} (the last of {iters}), medians of {rounds}:"
    )
    print(f"    cold (replayed from the seed):          {statistics.median(cold):.3f} s")
    print(f"    warm (after POST /api/train, cached):   {statistics.median(warm):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10_000)
    parser.add_argument("--blas-threads", type=int, default=1, help="0: the library's default")
    args = parser.parse_args()
    print(f"BLAS threads: {args.blas_threads or 'default'}")
    with threadpool_limits(args.blas_threads or None, user_api="blas"):
        bench_loop(args.rounds, args.iters)
        bench_numerical(args.rounds)
        bench_replay(args.rounds, args.iters)


if __name__ == "__main__":
    main()
