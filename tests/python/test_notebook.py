"""trace.show(): an anywidget with the viewer's module linked in one ES module, re-tracing edits."""

from __future__ import annotations

import anywidget
import pytest

import backprop_viz as bv
from backprop_viz.export import inlined_modules
from backprop_viz.notebook import WIDGET_ENTRY, dependency_order, widget_css, widget_esm


def test_show_is_an_anywidget_with_the_trace_and_ops():
    t = bv.trace("apple")
    widget = t.show(lang="ja")
    assert isinstance(widget, anywidget.AnyWidget)
    assert widget.trace == t.to_json()
    assert {op["name"] for op in widget.ops} >= {"mul", "add", "affine", "softmax_with_loss"}
    assert widget.lang == "ja" and widget.error == ""


def test_the_module_holds_every_viewer_module_dependencies_first():
    modules = inlined_modules(WIDGET_ENTRY)
    assert {"js/viewer/viewer.js", "vendor/dagre.esm.js", WIDGET_ENTRY} <= set(modules)
    order = dependency_order(modules)
    assert order[-1] == WIDGET_ENTRY
    assert order.index("vendor/dagre.esm.js") < order.index("js/viewer/graph-layout.js")
    assert order.index("js/viewer/format.js") < order.index("js/viewer/viewer.js")
    esm = widget_esm()
    assert "export default widget.default" in esm and "'./" not in esm.split("const order")[1]


def test_a_cycle_is_refused():
    cycle = {"a.js": "import 'backprop-viz/b.js';", "b.js": "import 'backprop-viz/a.js';"}
    with pytest.raises(ValueError, match="import cycle: a.js -> b.js -> a.js"):
        dependency_order(cycle)


def test_an_edit_re_traces_in_the_kernel():
    widget = bv.trace("apple").show()
    widget.handle_message(widget, {"type": "valueedit", "node": "apple", "value": 150}, None)
    assert widget.trace["values"]["price"] == pytest.approx(330)
    assert widget.source.grads["apple"] == pytest.approx(2.2)
    widget.handle_message(widget, {"type": "valueedit", "node": "apple_num", "value": 3}, None)
    assert widget.trace["values"]["price"] == pytest.approx(495)  # both edits kept
    widget.handle_message(widget, {"type": "valueedit", "node": "nope", "value": 1}, None)
    assert "nope" in widget.error
    assert widget.trace["values"]["price"] == pytest.approx(495)  # the refused edit changes nothing
    widget.handle_message(widget, {"type": "other"}, None)  # ignored


def test_the_css_leaves_the_notebooks_page_alone():
    css = widget_css()
    assert "html, body {" not in css and "\nbody {" not in css
    assert ".bpv-widget-error" in css


def test_jupyter_display_is_the_widget_with_the_trace_repr():
    t = bv.trace("apple")
    data, _ = t._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == repr(t)
