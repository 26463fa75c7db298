"""`backprop-viz serve | examples | trace | export | train`: the server, the presets, a trace in
the terminal or as one offline HTML file, and the book's training run (5.7.4)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from backprop_viz.table import describe_step, show, trace_table  # noqa: F401 (re-exported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="backprop-viz",
        description="Backpropagation on the computational graphs of Deep Learning from Scratch, "
        "chapter 5.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web app (default 127.0.0.1:8000)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default BPV_WORKERS, else one per core and at least 2): each "
        "keeps one core busy, so one per core serves the most (see the README, Deployment), "
        "and with two or more uvicorn replaces one that dies",
    )

    commands.add_parser("examples", help="list the chapter 5 presets")

    trace = commands.add_parser("trace", help="print the forward and backward steps of a preset")
    add_trace_arguments(trace)
    trace.add_argument("--json", action="store_true", help="print the trace as JSON")

    export = commands.add_parser(
        "export",
        help="write a trace as one self-contained HTML file that plays offline",
        description="Write the viewer, its styles and the trace into one HTML file: it opens "
        "from disk in a browser, with no server and no network, and steps with the keys.",
    )
    add_trace_arguments(export)
    export.add_argument("-o", "--output", required=True, help="the HTML file to write")
    export.add_argument("--lang", choices=["en", "ja"], default="en", help="the page's language")

    add_train_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_app(args.host, args.port, args.workers)
    if args.command == "examples":
        return print_examples()
    if args.command == "train":
        return run_training(args)
    if args.command == "export":
        return export_trace(args)
    return print_trace(args.example, args.set, args.dout, args.json, args.expression, args.expand)


def add_trace_arguments(command: argparse.ArgumentParser) -> None:
    """What `trace` and `export` take: a preset or a formula, overrides, dout, expansions."""
    command.add_argument(
        "example",
        help="a preset id (see `backprop-viz examples`), or with -e "
        "a formula such as '(x + y) ** 2'",
    )
    command.add_argument(
        "-e", "--expression", action="store_true", help="EXAMPLE is a formula, not a preset id"
    )
    command.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NODE=VALUE",
        help="override an input, e.g. --set apple=150 or --set 'x=[[1, -2]]' (repeatable)",
    )
    command.add_argument("--dout", help="the gradient fed into the output (a number or JSON list)")
    command.add_argument(
        "--expand",
        action="append",
        default=[],
        metavar="NODE",
        help="draw a sigmoid or affine node as its primitive nodes (repeatable)",
    )


MAX_WORKERS = 64


def serve_app(host: str, port: int, workers: int | None = None) -> int:
    """uvicorn on the app with the settings' workers and timeouts, once they all check out.

    Checked here, before uvicorn starts, because a worker that fails on them would only be
    restarted by uvicorn's supervisor, again and again, while the parent never exits.
    """
    from backprop_viz.settings import Settings, SettingsError
    from backprop_viz.training.settings import TrainingLimits

    try:
        settings = Settings.from_env()
        TrainingLimits.from_env()  # the BPV_TRAIN_* limits, the checkpoint folder included
    except SettingsError as e:
        print(f"backprop-viz serve: {e}", file=sys.stderr)
        return 2
    workers = settings.workers if workers is None else workers
    if not 1 <= workers <= MAX_WORKERS:
        print(f"backprop-viz serve: --workers must be between 1 and {MAX_WORKERS}", file=sys.stderr)
        return 2

    # Before uvicorn starts its workers, so none of them starts more than one BLAS thread
    # (backprop_viz.main pins it too, for `uvicorn backprop_viz.main:app` run directly).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")

    import uvicorn

    from backprop_viz.web.connections import HeaderTimeoutProtocol

    uvicorn.run(
        "backprop_viz.main:app",
        host=host,
        port=port,
        workers=workers,
        http=HeaderTimeoutProtocol,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    return 0


def print_examples() -> int:
    from backprop_viz.examples import EXAMPLES

    width = max(len(i) for i in EXAMPLES)
    for example in EXAMPLES.values():
        print(f"{example.id:<{width}}  {example.section:<6} {example.title['en']}")
    return 0


class UsageError(ValueError):
    """A bad command-line value: printed to stderr, exit status 2."""


def parse_json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise UsageError(f"{what}: {text!r} is not a number or a JSON list") from None


def print_trace(
    source: str,
    sets: list[str],
    dout: str | None,
    as_json: bool,
    is_expression: bool = False,
    expand: list[str] | None = None,
) -> int:
    """Trace a preset (or with ``is_expression`` a formula) through the service the API uses,
    and print its steps and gradients, or with ``as_json`` the API's JSON for the same request."""
    from backprop_viz import service
    from backprop_viz.core.graph import GraphError
    from backprop_viz.encoding import dumps
    from backprop_viz.settings import Settings

    try:
        title, query = trace_query(source, sets, dout, is_expression, expand)
        result = service.trace(query, Settings.from_env())
    except (UsageError, GraphError) as e:
        print(e.message if isinstance(e, GraphError) else e, file=sys.stderr)
        return 2
    if as_json:
        sys.stdout.write(dumps(result.to_json()).decode() + "\n")
        return 0
    print(trace_table(result.trace, title))
    return 0


def trace_query(
    source: str,
    sets: list[str],
    dout: str | None,
    is_expression: bool = False,
    expand: list[str] | None = None,
):
    """The table's title and the service's query for the command line's trace arguments;
    UsageError or GraphError says what is wrong."""
    from backprop_viz import service

    overrides = {}
    for item in sets:
        name, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected NODE=VALUE")
        overrides[name.strip()] = parse_json_arg(text, f"--set {name}")
    seed = parse_json_arg(dout, "--dout") if dout is not None else None
    if is_expression:
        title, named = source, {"expression": source}
    else:
        example = service.find_example(source)
        title, named = f"{example.title['en']} ({example.section})", {"example": source}
    query = service.TraceQuery(**named, values=overrides, dout=seed, expand=expand or [])
    return title, query


def export_trace(args: argparse.Namespace) -> int:
    """`backprop-viz export`: the trace `trace` would print, as one offline HTML file."""
    from backprop_viz import service
    from backprop_viz.api import Trace
    from backprop_viz.core.graph import GraphError
    from backprop_viz.settings import Settings

    try:
        title, query = trace_query(args.example, args.set, args.dout, args.expression, args.expand)
        trace = Trace(service.trace(query, Settings.from_env()), title)
    except (UsageError, GraphError) as e:
        print(e.message if isinstance(e, GraphError) else e, file=sys.stderr)
        return 2
    try:
        trace.to_html(args.output, lang=args.lang)
    except OSError as e:
        print(f"backprop-viz export: cannot write {args.output}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({title})")
    return 0


def add_train_parser(commands) -> None:
    """`backprop-viz train`: the options keep the book's names (ch05/train_neuralnet.py)."""
    train = commands.add_parser(
        "train",
        help="train the two-layer net with backprop, as the book's 5.7.4 does",
        description="Train TwoLayerNet (Affine, ReLU, Affine, Softmax-with-Loss) with plain SGD "
        "on mini-batches, printing train and test accuracy every epoch as the book does. The "
        "defaults are the book's.",
    )
    train.add_argument("--dataset", default="digits", help="digits (default) or mnist")
    train.add_argument("--iters", type=int, default=10_000, dest="iters_num", help="iters_num")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--hidden-size", type=int, default=50)
    train.add_argument("--lr", type=float, default=0.1, dest="learning_rate")
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--weight-init-std", type=float, default=0.01)
    train.add_argument(
        "--gradient",
        choices=["backprop", "numerical"],
        default="backprop",
        help="numerical: the central difference of 4.4 (tiny networks only)",
    )
    train.add_argument(
        "--json", action="store_true", help="print the whole run as POST /api/train returns it"
    )


def run_training(args: argparse.Namespace) -> int:
    """Train with a progress bar on stderr and the book's accuracy line every epoch."""
    from pydantic import ValidationError
    from tqdm import tqdm

    from backprop_viz.core.graph import GraphError
    from backprop_viz.encoding import dumps
    from backprop_viz.training.checkpoints import CHECKPOINTS
    from backprop_viz.training.loop import TrainingRun, finite_json
    from backprop_viz.training.settings import TrainSettings, check_settings, limits_from_env

    names = ("dataset", "iters_num", "seed", "hidden_size", "learning_rate", "batch_size")
    names += ("weight_init_std", "gradient")
    try:
        settings = TrainSettings(**{name: getattr(args, name) for name in names})
        dataset = check_settings(settings, limits_from_env())
    except ValidationError as e:
        for error in e.errors():
            print(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    except GraphError as e:
        print(e.message, file=sys.stderr)
        return 2
    run = TrainingRun(settings, dataset)
    bar = tqdm(total=settings.iters_num, unit="it", desc="training", file=sys.stderr)
    with bar:
        while not run.done:
            before = run.iteration
            # Leaves checkpoints for later replays (those that run on as many BLAS threads).
            epochs = run.advance(seconds=0.1, checkpoints=CHECKPOINTS)
            bar.update(run.iteration - before)
            bar.set_postfix(loss=f"{run.loss[-1]:.4f}")
            if not args.json:
                for epoch in epochs:
                    bar.write(f"train acc, test acc | {epoch.train_acc}, {epoch.test_acc}")
    result = run.result()
    if args.json:
        sys.stdout.write(dumps(finite_json(result)).decode() + "\n")
        return 0
    print(
        f"final train acc, test acc | {result['final_train_acc']}, {result['final_test_acc']} "
        f"({run.iteration} iterations in {run.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
