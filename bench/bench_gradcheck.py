"""The gradient check's speed-up on the book net, run after run: the as-run figure (a first,
recorded backprop against the numerical side's wall time, as before) and the estimate (both
sides recording nothing, interleaved, medians), with the spread (max / min) of each. One BLAS
thread, as the served app. A script, not a test.

Run: python bench/bench_gradcheck.py [--runs 5] [--example two_layer_net_book]
"""

from __future__ import annotations

import argparse

from threadpoolctl import threadpool_limits

from backprop_viz import service
from backprop_viz.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--example", default="two_layer_net_book")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    query = service.TraceQuery(example=args.example)
    as_run, estimated = [], []
    for _ in range(args.runs):
        result = service.check_gradients(query, Settings())
        as_run.append(result["speedup"])
        estimated.append(result["estimate"]["speedup"])
        print(f"  as run {result['speedup']:>10,.0f}x   estimate {estimated[-1]:>10,.0f}x")
    print(result["summary"])
    print(
        f"spread (max/min): as run {max(as_run) / min(as_run):.2f}, estimate "
        f"{max(estimated) / min(estimated):.2f} (target 1.30)"
    )


if __name__ == "__main__":
    main()
