"""The presets of chapter 5: graph specs with the book's numbers, titles in two languages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

GROUPS = {
    "5.1": {"en": "5.1 Computational graphs", "ja": "5.1 計算グラフ"},
    "5.2": {"en": "5.2 The chain rule", "ja": "5.2 連鎖律"},
    "5.3": {"en": "5.3 Backward propagation", "ja": "5.3 逆伝播"},
    "5.4": {"en": "5.4 Simple layers", "ja": "5.4 単純なレイヤの実装"},
    "5.5": {"en": "5.5 Activation function layers", "ja": "5.5 活性化関数レイヤの実装"},
    "5.6": {"en": "5.6 Affine and Softmax layers", "ja": "5.6 Affine/Softmaxレイヤの実装"},
    "5.7": {"en": "5.7 Implementing backpropagation", "ja": "5.7 誤差逆伝播法の実装"},
}


@dataclass(frozen=True)
class Example:
    """A preset: its graph spec, the upstream gradient the book uses, and what it shows."""

    id: str
    section: str
    title: dict[str, str]
    description: dict[str, str]
    nodes: list[dict[str, Any]]
    output: str
    dout: Any = None
    meaning: dict[str, Any] | None = None
    """What the gradients mean in the preset's units, for the summary at the last step:
    ``{"output": {en, ja}, "unit": {en, ja}, "inputs": {id: {"what", "change", "step"}}}``
    (see ``gradient_meaning``); None where no unit fits, and the page says it generically."""

    @property
    def group(self) -> dict[str, str]:
        return GROUPS[".".join(self.section.split(".")[:2])]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "group": self.group,
            "title": self.title,
            "description": self.description,
            "meaning": self.meaning,
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "graph": {"nodes": self.nodes, "output": self.output},
            "dout": self.dout,
        }


def named(node: dict[str, Any], en: str, ja: str) -> dict[str, Any]:
    """The node with its names on the page in each language (the book's words): the id stays
    the code's name (apple_num), the graph shows "number of apples" or リンゴの個数."""
    return {**node, "labels": {"en": en, "ja": ja}}


def gradient_meaning(
    output: tuple[str, str],
    unit: tuple[str, str],
    inputs: dict[str, tuple[str, str, str, str, float]],
) -> dict[str, Any]:
    """The summary's words: the output's name and unit (en, ja), and for each input its name,
    the change it makes (en, ja) and that change as a number, so the page can say "if the
    price of an apple goes up by 1 yen, the price to pay goes up by 2.2 yen" (gradient x step)."""
    return {
        "output": {"en": output[0], "ja": output[1]},
        "unit": {"en": unit[0], "ja": unit[1]},
        "inputs": {
            node_id: {
                "what": {"en": what_en, "ja": what_ja},
                "change": {"en": change_en, "ja": change_ja},
                "step": step,
            }
            for node_id, (what_en, what_ja, change_en, change_ja, step) in inputs.items()
        },
    }


def leaf(node_id: str, value: Any, label: str | None = None, **extra: Any) -> dict[str, Any]:
    node = {"id": node_id, "op": "input", "value": value}
    if label:
        node["label"] = label
    return {**node, **extra}


def const(node_id: str, value: Any) -> dict[str, Any]:
    """A constant of a figure (the -1 and 1 of the sigmoid graph): drawn, but takes no gradient."""
    return leaf(node_id, value, label=str(value), requires_grad=False)


def op(node_id: str, name: str, *inputs: str, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "op": name, "inputs": list(inputs)}
    if params:
        node["params"] = params
    return node


def two_layer_net(
    input_size: int, hidden_size: int, output_size: int, batch_size: int, seed: int = 0
) -> list[dict[str, Any]]:
    """The book's TwoLayerNet (5.7.2) as a graph: Affine, ReLU, Affine, Softmax-with-Loss.

    Weights as the book initialises them (Gaussian with std 0.01 at the book's size; 0.5 for
    small graphs, so they show readable gradients), zero biases, a seeded random batch.
    """
    rng = np.random.default_rng(seed)
    small = input_size <= 100
    std = 0.5 if small else 0.01
    x = rng.random((batch_size, input_size))
    labels = rng.integers(0, output_size, batch_size)
    t = np.eye(output_size)[labels]
    W1 = std * rng.standard_normal((input_size, hidden_size))
    W2 = std * rng.standard_normal((hidden_size, output_size))
    if small:
        # Short numbers read better on the page. (Not at the book's size: rounded products can
        # cancel to exactly 0 at a ReLU kink, where the numerical gradient is meaningless.)
        x, W1, W2 = x.round(2), W1.round(3), W2.round(3)
    return [
        leaf("x", x.tolist(), requires_grad=False),
        leaf("W1", W1.tolist()),
        leaf("b1", np.zeros(hidden_size).tolist()),
        op("affine1", "affine", "x", "W1", "b1"),
        op("relu1", "relu", "affine1"),
        leaf("W2", W2.tolist()),
        leaf("b2", np.zeros(output_size).tolist()),
        op("affine2", "affine", "relu1", "W2", "b2"),
        leaf("t", t.tolist(), requires_grad=False),
        op("loss", "softmax_with_loss", "affine2", "t"),
    ]


def _examples() -> list[Example]:
    # The names of figures 5-2, 5-3 and 5-17 (リンゴ, リンゴの個数, 消費税, 支払金額); the op nodes
    # stay × and + in circles as the book draws them, their layers named in the inspector.
    apple_leaf = named(leaf("apple", 100), "apple", "リンゴ")
    apple_num = named(leaf("apple_num", 2), "number of apples", "リンゴの個数")
    apple_price = named(
        op("apple_price", "mul", "apple", "apple_num"), "price of the apples", "リンゴの金額"
    )
    tax = named(leaf("tax", 1.1), "tax", "消費税")
    apple = [
        apple_leaf,
        apple_num,
        apple_price,
        tax,
        named(op("price", "mul", "apple_price", "tax"), "price to pay", "支払金額"),
    ]
    apple_orange = [
        apple_leaf,
        apple_num,
        apple_price,
        named(leaf("orange", 150), "orange", "みかん"),
        named(leaf("orange_num", 3), "number of oranges", "みかんの個数"),
        named(
            op("orange_price", "mul", "orange", "orange_num"),
            "price of the oranges",
            "みかんの金額",
        ),
        named(op("all_price", "add", "apple_price", "orange_price"), "total", "合計金額"),
        tax,
        named(op("price", "mul", "all_price", "tax"), "price to pay", "支払金額"),
    ]
    apple_words = {
        "apple": ("the price of an apple", "リンゴの値段", "goes up by 1 yen", "1円上がる", 1),
        "apple_num": ("the number of apples", "リンゴの個数", "goes up by 1", "1個増える", 1),
        "tax": ("the tax", "消費税", "goes up by 0.01 (1%)", "0.01（1%）上がる", 0.01),
    }
    orange_words = {
        "orange": ("the price of an orange", "みかんの値段", "goes up by 1 yen", "1円上がる", 1),
        "orange_num": ("the number of oranges", "みかんの個数", "goes up by 1", "1個増える", 1),
    }
    price_to_pay = ("the price to pay", "支払金額")
    yen = (" yen", "円")
    sigmoid_x = 1.0
    return [
        Example(
            "apple",
            "5.4.1",
            {"en": "Buying apples", "ja": "リンゴの買い物"},
            {
                "en": "100 yen x 2 apples x 1.1 tax = 220. Backward from 1: d apple = 2.2, "
                "d apple_num = 110, d tax = 200 (figures 5-2, 5-14, 5.4.1).",
                "ja": "100円のリンゴを2個、消費税1.1で220円。逆伝播：リンゴの値段の微分2.2、"
                "個数の微分110、消費税の微分200（図5-2、図5-14、5.4.1）。",
            },
            apple,
            "price",
            meaning=gradient_meaning(price_to_pay, yen, apple_words),
        ),
        Example(
            "apple_orange",
            "5.4.2",
            {"en": "Buying apples and oranges", "ja": "リンゴとみかんの買い物"},
            {
                "en": "Apples 100 x 2 and oranges 150 x 3, plus 10% tax: 715. Gradients: "
                "apple 2.2, apple_num 110, orange 3.3, orange_num 165, tax 650 (figure 5-17).",
                "ja": "リンゴ100円×2個とみかん150円×3個、消費税込みで715円。勾配：リンゴ2.2、"
                "リンゴの個数110、みかん3.3、みかんの個数165、消費税650（図5-17）。",
            },
            apple_orange,
            "price",
            meaning=gradient_meaning(price_to_pay, yen, {**apple_words, **orange_words}),
        ),
        Example(
            "chain_rule",
            "5.2.3",
            {"en": "The chain rule: z = (x + y)²", "ja": "連鎖律：z = (x + y)²"},
            {
                "en": "t = x + y, z = t**2: dz/dx = dz/dt · dt/dx = 2t · 1 = 2(x + y) "
                "(figure 5-7).",
                "ja": "t = x + y、z = t**2：∂z/∂x = ∂z/∂t · ∂t/∂x = 2t · 1 = 2(x + y)（図5-7）。",
            },
            [leaf("x", 1), leaf("y", 2), op("t", "add", "x", "y"), op("z", "pow", "t", p=2)],
            "z",
        ),
        Example(
            "add_node",
            "5.3.1",
            {"en": "Backward of an add node", "ja": "加算ノードの逆伝播"},
            {
                "en": "10 + 5 = 15 with an upstream gradient of 1.3: both inputs get 1.3 "
                "unchanged (figure 5-11).",
                "ja": "10 + 5 = 15、上流から1.3が流れてくると、加算ノードはそのまま1.3を"
                "両方の入力へ流す（図5-11）。",
            },
            [leaf("x", 10), leaf("y", 5), op("z", "add", "x", "y")],
            "z",
            dout=1.3,
        ),
        Example(
            "mul_node",
            "5.3.2",
            {"en": "Backward of a multiply node", "ja": "乗算ノードの逆伝播"},
            {
                "en": "10 x 5 = 50 with an upstream gradient of 1.3: x gets 1.3 x 5 = 6.5 and "
                "y gets 1.3 x 10 = 13, the inputs swapped (figure 5-13).",
                "ja": "10 × 5 = 50、上流から1.3。入力を「ひっくり返した」値を掛けて、xへ"
                "1.3 × 5 = 6.5、yへ1.3 × 10 = 13（図5-13）。",
            },
            [leaf("x", 10), leaf("y", 5), op("z", "mul", "x", "y")],
            "z",
            dout=1.3,
        ),
        Example(
            "relu",
            "5.5.1",
            {"en": "ReLU layer", "ja": "ReLUレイヤ"},
            {
                "en": "x = [[1.0, -0.5], [-2.0, 3.0]]: the mask x <= 0 is [[False, True], "
                "[True, False]]. The upstream gradient [[1.3, 0.8], [0.5, 2.0]] passes where "
                "x > 0 and is blocked (set to 0) where the mask is True: dx = [[1.3, 0], [0, 2]] "
                "(figure 5-18).",
                "ja": "x = [[1.0, -0.5], [-2.0, 3.0]]：マスク x <= 0 は [[False, True], "
                "[True, False]]。上流から来た勾配 [[1.3, 0.8], [0.5, 2.0]] は x > 0 の位置では"
                "そのまま流れ、マスクが True の位置では止まって0になる：dx = [[1.3, 0], [0, 2]]"
                "（図5-18）。",
            },
            [leaf("x", [[1.0, -0.5], [-2.0, 3.0]]), op("y", "relu", "x")],
            "y",
            # Not all ones, so the elements the mask blocks are seen to be zeroed.
            dout=[[1.3, 0.8], [0.5, 2.0]],
        ),
        Example(
            "sigmoid_steps",
            "5.5.2",
            {"en": "Sigmoid, step by step", "ja": "Sigmoidレイヤ（計算グラフを分解）"},
            {
                "en": "y = 1 / (1 + exp(-x)) as x, exp, + and / nodes: backward gives "
                "dout · y² · exp(-x) = dout · y(1 - y) (figures 5-19, 5-20).",
                "ja": "y = 1 / (1 + exp(-x)) を ×、exp、+、/ のノードで。逆伝播は "
                "dout · y² · exp(-x) = dout · y(1 - y)（図5-19、図5-20）。",
            },
            [
                leaf("x", sigmoid_x),
                const("minus_one", -1),
                # Named by what they hold, as the figure's edges read: -x, exp(-x), 1 + exp(-x).
                named(op("neg_x", "mul", "x", "minus_one"), "−x", "−x"),
                named(op("exp_neg_x", "exp", "neg_x"), "exp(−x)", "exp(−x)"),
                const("one", 1),
                named(op("denominator", "add", "exp_neg_x", "one"), "1 + exp(−x)", "1 + exp(−x)"),
                op("y", "reciprocal", "denominator"),
            ],
            "y",
        ),
        Example(
            "sigmoid",
            "5.5.2",
            {"en": "Sigmoid as one node", "ja": "Sigmoidレイヤ（1つのノード）"},
            {
                "en": "The same function as one sigmoid node: dx = dout · y(1 - y), the same "
                "number as the step-by-step graph (figure 5-21).",
                "ja": "同じ関数を1つのsigmoidノードで。dx = dout · y(1 - y) は分解した"
                "グラフと同じ値になる（図5-21）。",
            },
            [leaf("x", sigmoid_x), op("y", "sigmoid", "x")],
            "y",
        ),
        Example(
            "affine",
            "5.6.1",
            {"en": "Affine: dot and +", "ja": "Affineレイヤ（dot と +）"},
            {
                "en": "X · W + B with X (2,), W (2, 3), B (3,): dX = dY · Wᵀ, dW = Xᵀ · dY "
                "(figure 5-25; the numbers of 3.4.2).",
                "ja": "X · W + B、X (2,)、W (2, 3)、B (3,)。∂L/∂X = ∂L/∂Y · Wᵀ、"
                "∂L/∂W = Xᵀ · ∂L/∂Y（図5-25、値は3.4.2のもの）。",
            },
            [
                leaf("X", [1.0, 0.5]),
                leaf("W", [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
                op("X_dot_W", "matmul", "X", "W"),
                leaf("B", [0.1, 0.2, 0.3]),
                op("Y", "add", "X_dot_W", "B"),
            ],
            "Y",
        ),
        Example(
            "affine_batch",
            "5.6.2",
            {"en": "Affine for a batch", "ja": "バッチ版Affineレイヤ"},
            {
                "en": "A batch of 2: X · W = [[0, 0, 0], [10, 10, 10]] plus B = [1, 2, 3]; "
                "with dY = [[1, 2, 3], [4, 5, 6]], dB = sum over the batch = [5, 7, 9].",
                "ja": "バッチ数2：X · W = [[0, 0, 0], [10, 10, 10]] に B = [1, 2, 3] を加える。"
                "dY = [[1, 2, 3], [4, 5, 6]] のとき dB はバッチ方向の和 [5, 7, 9]。",
            },
            [
                leaf("X", [[0.0, 0.0], [2.0, 3.0]]),
                leaf("W", [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]),
                leaf("B", [1.0, 2.0, 3.0]),
                op("Y", "affine", "X", "W", "B"),
            ],
            "Y",
            dout=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        ),
        Example(
            "softmax_with_loss",
            "5.6.3",
            {"en": "Softmax-with-Loss", "ja": "Softmax-with-Lossレイヤ"},
            {
                "en": "Scores whose softmax is (0.3, 0.2, 0.5) and the label t = (0, 1, 0): "
                "the gradient is y - t = (0.3, -0.8, 0.5) (figure 5-30).",
                "ja": "Softmaxの出力が (0.3, 0.2, 0.5)、教師ラベル t = (0, 1, 0) のとき、"
                "逆伝播は y - t = (0.3, -0.8, 0.5)（図5-30）。",
            },
            [
                leaf("a", np.log([0.3, 0.2, 0.5]).tolist()),
                leaf("t", [0.0, 1.0, 0.0], requires_grad=False),
                op("L", "softmax_with_loss", "a", "t"),
            ],
            "L",
        ),
        Example(
            "two_layer_net",
            "5.7.2",
            {"en": "Two-layer network", "ja": "2層ニューラルネットワーク"},
            {
                "en": "TwoLayerNet as Affine, ReLU, Affine, Softmax-with-Loss: 4 inputs, 3 "
                "hidden units, 2 classes, a batch of 2, seeded weights.",
                "ja": "TwoLayerNet：Affine、ReLU、Affine、Softmax-with-Loss。入力4、隠れ層3、"
                "クラス2、バッチ数2、乱数のシード固定の重み。",
            },
            two_layer_net(4, 3, 2, 2, seed=11),
            "loss",
        ),
        Example(
            "two_layer_net_book",
            "5.7.2",
            {
                "en": "Two-layer network, the book's size (784-50-10, batch 100)",
                "ja": "2層ニューラルネットワーク（本のサイズ 784-50-10、バッチ数100）",
            },
            {
                "en": "The book's MNIST-sized TwoLayerNet with random data: large arrays are "
                "summarised (shape, statistics, a corner).",
                "ja": "本と同じMNISTサイズのTwoLayerNet（データは乱数）。大きな配列は形状・統計量・"
                "左上の一部で表示する。",
            },
            # Seed 12 keeps every ReLU input at least 1.4e-4 from the kink at 0, farther than
            # the gradient check's h = 1e-4 moves it, so the numerical gradient is meaningful.
            two_layer_net(784, 50, 10, 100, seed=12),
            "loss",
        ),
    ]


def _examples_from_beyond_the_book() -> list[Example]:
    """Classic examples from outside the book (Olah; Stanford's cs231n) that forward mode and
    the sum over paths need: a fork, and a neuron whose every weight takes a gradient."""
    olah = [
        leaf("a", 2),
        leaf("b", 1),
        op("c", "add", "a", "b"),
        const("one", 1),
        op("d", "add", "b", "one"),
        op("e", "mul", "c", "d"),
    ]
    cs231n_circuit = [
        leaf("x", -2),
        leaf("y", 5),
        op("q", "add", "x", "y"),
        leaf("z", -4),
        op("f", "mul", "q", "z"),
    ]
    cs231n_neuron = [
        leaf("w0", 2),
        leaf("x0", -1),
        op("w0x0", "mul", "w0", "x0"),
        leaf("w1", -3),
        leaf("x1", -2),
        op("w1x1", "mul", "w1", "x1"),
        op("weighted", "add", "w0x0", "w1x1"),
        leaf("w2", -3),
        op("activation", "add", "weighted", "w2"),
        op("f", "sigmoid", "activation"),
    ]
    return [
        Example(
            "olah_fork",
            "5.3",
            {
                "en": "A fork: e = (a + b)(b + 1) (Olah)",
                "ja": "分岐するグラフ：e = (a + b)(b + 1)（Olah）",
            },
            {
                "en": "a = 2, b = 1: c = a + b = 3, d = b + 1 = 2, e = c · d = 6. b feeds two "
                "nodes, so its gradient is the sum over both paths: de/db = 1 · 2 + 1 · 3 = 5; "
                "de/da = 2 (C. Olah, Calculus on Computational Graphs: Backpropagation, 2015).",
                "ja": "a = 2、b = 1：c = a + b = 3、d = b + 1 = 2、e = c · d = 6。bは2つの"
                "ノードへ分岐するので、勾配は2つの経路の和：∂e/∂b = 1 · 2 + 1 · 3 = 5、"
                "∂e/∂a = 2（C. Olah「Calculus on Computational Graphs: Backpropagation」2015）。",
            },
            olah,
            "e",
        ),
        Example(
            "cs231n_circuit",
            "5.3",
            {
                "en": "f = (x + y) · z (cs231n)",
                "ja": "f = (x + y) · z（cs231n）",
            },
            {
                "en": "x = -2, y = 5, z = -4: q = x + y = 3, f = q · z = -12. Backward: "
                "df/dz = q = 3, df/dq = z = -4, which the add node passes on to x and y: "
                "-4 and -4 (Stanford CS231n, Backpropagation, Intuitions).",
                "ja": "x = -2、y = 5、z = -4：q = x + y = 3、f = q · z = -12。逆伝播："
                "∂f/∂z = q = 3、∂f/∂q = z = -4。加算ノードはそれをそのままxとyへ流す："
                "-4と-4（Stanford CS231n「Backpropagation, Intuitions」）。",
            },
            cs231n_circuit,
            "f",
        ),
        Example(
            "cs231n_neuron",
            "5.5.2",
            {
                "en": "A sigmoid neuron: f = σ(w0·x0 + w1·x1 + w2) (cs231n)",
                "ja": "シグモイドニューロン：f = σ(w0·x0 + w1·x1 + w2)（cs231n）",
            },
            {
                "en": "w = (2, -3, -3), x = (-1, -2): the weighted sum is 1 and f = σ(1) = 0.73; "
                "the sigmoid's local gradient y(1 - y) = 0.2 flows back: dw0 = -0.2, "
                "dx0 = 0.39, dw1 = -0.39, dx1 = -0.59, dw2 = 0.2 (Stanford CS231n; expand the "
                "sigmoid to see the book's x, exp, + and / nodes).",
                "ja": "w = (2, -3, -3)、x = (-1, -2)：重み付き和は1、f = σ(1) = 0.73。"
                "sigmoidの局所的な微分 y(1 - y) = 0.2 が逆伝播する：dw0 = -0.2、dx0 = 0.39、"
                "dw1 = -0.39、dx1 = -0.59、dw2 = 0.2（Stanford CS231n。sigmoidを展開すると"
                "本の ×、exp、+、/ のノードになる）。",
            },
            cs231n_neuron,
            "f",
        ),
    ]


EXAMPLES: dict[str, Example] = {
    example.id: example for example in _examples() + _examples_from_beyond_the_book()
}
