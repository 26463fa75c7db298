"""`backprop-viz train`: the book's accuracy lines, a progress bar, --json as the API returns,
and the errors of bad options."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from backprop_viz.cli import main
from backprop_viz.settings import Settings
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import train
from backprop_viz.training.settings import TrainSettings
from backprop_viz.web.app import create_app

TIMING = ("seconds", "iterations_per_second")


def test_train_prints_the_books_accuracy_line_every_epoch_and_a_progress_bar(capsys):
    assert main(["train", "--iters", "30", "--seed", "5"]) == 0
    out, err = capsys.readouterr()
    expected = train(TrainSettings(iters_num=30, seed=5), load_dataset("digits"))
    lines = out.strip().splitlines()
    assert lines[:-1] == [
        f"train acc, test acc | {e['train_acc']}, {e['test_acc']}" for e in expected["epochs"]
    ]
    assert len(lines) == 1 + 3  # epochs at iterations 0, 14 and 28, then the final line
    assert lines[-1].startswith(
        f"final train acc, test acc | {expected['final_train_acc']}, "
        f"{expected['final_test_acc']} (30 iterations in "
    )
    assert "30/30" in err and "it/s" in err  # tqdm's bar, on stderr


def test_train_options_keep_the_books_names(capsys):
    argv = ["train", "--iters", "12", "--hidden-size", "7", "--lr", "0.5", "--batch-size", "20"]
    argv += ["--weight-init-std", "0.1", "--json"]
    assert main(argv) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert settings == {
        "dataset": "digits",
        "hidden_size": 7,
        "learning_rate": 0.5,
        "batch_size": 20,
        "iters_num": 12,
        "weight_init_std": 0.1,
        "seed": 0,
        "gradient": "backprop",
    }


def test_train_json_is_what_post_api_train_returns(capsys):
    assert main(["train", "--iters", "40", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    posted = TestClient(create_app(Settings())).post("/api/train", json={"iters_num": 40}).json()
    assert {k: v for k, v in printed.items() if k not in TIMING} == {
        k: v for k, v in posted.items() if k not in TIMING
    }


def test_train_with_the_numerical_gradient_on_a_tiny_net(capsys):
    argv = ["train", "--gradient", "numerical", "--hidden-size", "2", "--iters", "3"]
    assert main([*argv, "--batch-size", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["settings"]["gradient"] == "numerical" and len(result["loss"]) == 3


def test_train_bad_options_exit_2_naming_the_setting(capsys):
    assert main(["train", "--lr", "0"]) == 2
    assert "learning_rate: Input should be greater than 0" in capsys.readouterr().err
    assert main(["train", "--batch-size", "5000"]) == 2
    assert "batch_size: 5000 is larger than the 1437 training samples" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist"]) == 2
    assert "BPV_MNIST_DIR" in capsys.readouterr().err
    assert main(["train", "--gradient", "numerical"]) == 2
    assert "hidden_size: 50 is more than 10" in capsys.readouterr().err
