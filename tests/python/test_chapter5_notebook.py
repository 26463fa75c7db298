"""examples/chapter5.ipynb, run top to bottom by nbclient in a fresh kernel: the book's numbers."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "chapter5.ipynb"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Every cell's text output and the mime types it displayed, in order."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": workdir}}
    ).execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text, kinds = "", set()
        for out in cell.outputs:
            assert out.output_type != "error", out
            if out.output_type == "stream":
                text += out.text
            else:
                kinds |= set(out.get("data", {}))
                text += out.get("data", {}).get("text/plain", "")
        cells.append((cell.source, text, kinds))
    return cells


def output_of(outputs, start: str) -> tuple[str, set[str]]:
    (found,) = [(text, kinds) for source, text, kinds in outputs if source.startswith(start)]
    return found


def test_the_apples_by_hand_and_traced(outputs):
    text, _ = output_of(outputs, "from backprop_viz.layers import MulLayer")
    assert text == "220.00000000000003\n2.2 110.00000000000001 200\n"
    text, kinds = output_of(outputs, 'apple_trace = bv.trace("apple")')
    assert "dprice/dapple = 2.2" in text and "dprice/dtax = 200" in text
    assert "application/vnd.jupyter.widget-view+json" in kinds  # the viewer, inline


def test_the_chapters_numbers(outputs):
    assert output_of(outputs, "fruit = ")[0].startswith("715.0000000000001 3.3000000000000003 650")
    assert output_of(outputs, "square = ")[0].startswith("9.0 6.0 6.0")
    assert "gradient check: ok" in output_of(outputs, "print(bv.gradient_check")[0]
    assert output_of(outputs, "html = ")[0] == "True True\n"


def test_the_wrong_mul_layer_is_named(outputs):
    text, _ = output_of(outputs, "class MyMulLayer")
    assert text.startswith("False\ncheck_layer(MyMulLayer, op='mul'): FAILED")
    assert "dx: you returned dout * x; expected dout * y" in text
    _, kinds = output_of(outputs, "# the apple graph with your layer")
    assert "application/vnd.jupyter.widget-view+json" in kinds
