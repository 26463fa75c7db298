"""Request and response models of the REST API; their descriptions are the reference at /docs.

A *value* on the wire is a JSON number (a scalar), a nested list of numbers (an array of any
shape), one of the strings "NaN", "Infinity", "-Infinity", or, for an array over the inline
limit, an object ``{shape, summary: {min, max, mean, std, norm, non_finite}, preview}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from backprop_viz.core.ops import OPS, formula_functions
from backprop_viz.examples import EXAMPLES
from backprop_viz.training.settings import TrainTraceSettings

VALUE_DOC = (
    'A number, a nested list of numbers (any shape), the strings "NaN", "Infinity", '
    '"-Infinity", or (responses only) a summary {shape, summary, preview} of a large array.'
)


# A hard ceiling checked while parsing, so a body listing 100,000 nodes is refused before they
# are all validated; the configurable limit (BPV_MAX_NODES) is checked after.
MAX_SPEC_NODES = 20_000


class Strict(BaseModel):
    """A request model: no unknown fields, and no coercion (false is not the number 0, "1e-4"
    is not a number), so the server accepts exactly what the published schema says."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NodeSpec(Strict):
    """One node of a graph spec."""

    id: str = Field(
        description="Unique id; other nodes name it in their inputs.", examples=["apple"]
    )
    op: str = Field(
        description="The op: 'input' for a leaf, or one of GET /api/ops.",
        examples=["mul"],
        # in the schema, so that generated graphs use real ops; the engine checks the name
        # itself and says which node has an unknown one
        json_schema_extra={"enum": list(OPS)},
    )
    inputs: list[str] = Field(
        default_factory=list, description="Ids of the nodes feeding this one, in port order."
    )
    value: Any = Field(default=None, description="The value of an input node. " + VALUE_DOC)
    label: str | None = Field(
        default=None, max_length=200, description="Text drawn for the node; defaults to its id."
    )
    labels: (
        dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=200)]] | None
    ) = Field(
        default=None,
        max_length=8,
        description="The text drawn for the node in each language of the page, by language "
        "code; the page falls back to 'label', then to the id.",
        examples=[{"en": "number of apples", "ja": "リンゴの個数"}],
    )
    requires_grad: StrictBool = Field(
        default=True,
        description="False for data that takes no gradient (labels t, constants of a figure).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Op parameters: {'p': 2} for pow, {'axis': 0} for sum."
    )
    group: str | None = Field(
        default=None,
        max_length=100,
        description="The composite node this one is part of (set when a node is expanded).",
    )


class GraphSpec(Strict):
    """A computational graph: its nodes and the id of the output node."""

    nodes: list[NodeSpec] = Field(
        description="Leaves and ops, in any order (at most BPV_MAX_NODES, 10000 by default)."
    )

    @field_validator("nodes", mode="before")
    @classmethod
    def not_too_many(cls, nodes: Any) -> Any:
        # Checked before the nodes are validated one by one, which takes seconds for 100,000.
        if isinstance(nodes, list) and len(nodes) > MAX_SPEC_NODES:
            raise ValueError(f"{len(nodes)} nodes is more than the limit of {MAX_SPEC_NODES}")
        return nodes

    output: str = Field(description="Id of the node whose gradient is traced back.")


# The exactly-one-source rule of TraceRequest as JSON Schema: each branch holds when its source
# is given and not null, and oneOf asks for exactly one branch. (The properties stay nullable,
# as the server takes {"graph": null, "example": "apple"}.)
EXACTLY_ONE_SOURCE = [
    {"required": [source], "properties": {source: {"not": {"type": "null"}}}}
    for source in ("graph", "example", "expression", "training")
]

# Requests that trace: the book's apple (5.4.1) with an edited price, a formula, a small graph.
SMALL_GRAPH = {
    "nodes": [
        {"id": "x", "op": "input", "value": 2.0},
        {"id": "y", "op": "input", "value": 3.0},
        {"id": "z", "op": "mul", "inputs": ["x", "y"]},
    ],
    "output": "z",
}
TRACE_EXAMPLES = [
    {"example": "apple", "values": {"apple": 150}},
    {"expression": "t = x + y; z = t ** 2", "values": {"x": 1, "y": 2}},
    {"graph": SMALL_GRAPH, "dout": 1.3},
    {"example": "sigmoid", "expand": ["y"]},
    {"example": "olah_fork", "mode": "forward", "wrt": "b"},
    {"example": "affine", "mode": "forward", "wrt": "W", "wrt_index": [0, 2]},
]


class TraceSource(Strict):
    """What every tracing request takes: exactly one of graph, example, expression, training;
    leaf overrides; the seed (POST /api/trace, /api/gradcheck and /api/paths)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": EXACTLY_ONE_SOURCE})

    graph: GraphSpec | None = Field(default=None, description="A graph spec to trace.")
    example: str | None = Field(
        default=None,
        description="A preset id from GET /api/examples.",
        examples=["apple"],
        json_schema_extra={"enum": [*EXAMPLES, None]},
    )
    expression: str | None = Field(
        default=None,
        description="A formula such as '(x + y) ** 2' or 't = x + y; z = t ** 2': numbers, "
        f"names, + - * / **, unary minus, parentheses, {' '.join(formula_functions())}, and "
        "assignments, one per line or separated by ';'; the last line is the output. "
        "Variables start at 1; set them in 'values'.",
        examples=["(x + y) ** 2"],
    )
    training: TrainTraceSettings | None = Field(
        default=None,
        description="One iteration of a training run (the settings of POST /api/train and "
        "'iteration'): the two_layer_net graph with that iteration's batch and the weights "
        "before its update, replayed from the seed.",
    )
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="New values for input nodes, by id: {'apple': 150}. " + VALUE_DOC,
    )
    dout: Any = Field(
        default=None,
        description="The gradient fed into the output: a number (broadcast) or an array of the "
        "output's shape. Default 1 (ones). The book uses 1.3 in figures 5-11 and 5-13.",
    )
    full: StrictBool = Field(
        default=False,
        description="Send large arrays whole instead of summarised, up to 1,000,000 elements "
        "written out per response; past that, further uses of arrays are summarised.",
    )
    expand: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Ids of composite nodes to draw as their primitive nodes: sigmoid and affine "
        "(figures 5-19 and 5-25), softmax_with_loss into Softmax and Cross Entropy Error "
        "(figure 5-29), and those two into Appendix A's graph (their ids 'L/softmax', "
        "'L/cross_entropy_error' for a node L); the numbers around them stay the same.",
    )

    @model_validator(mode="after")
    def exactly_one_source(self) -> TraceSource:
        sources = ("graph", "example", "expression", "training")
        given = [k for k in sources if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                "give exactly one of 'graph', 'example' or 'expression', or 'training' for an "
                f"iteration of a training run (found: {found})"
            )
        return self


class TraceRequest(TraceSource):
    """What to trace: exactly one of graph, example, expression, training; leaf overrides;
    the seed; reverse mode (the default) or forward mode from one input."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": EXACTLY_ONE_SOURCE, "examples": TRACE_EXAMPLES}
    )

    mode: Literal["reverse", "forward"] = Field(
        default="reverse",
        description="'reverse': the backward pass, every input's gradient at once (backward "
        "and accumulate steps). 'forward': forward mode from the input 'wrt': each op's JVP "
        "pushes d node / d wrt to the output (tangent steps, and 'tangents' in the response); "
        "the output's tangent is that input's gradient.",
    )
    wrt: str | None = Field(
        default=None,
        max_length=200,
        description="Forward mode only (and required there): the id of the input node, one "
        "that takes a gradient, to differentiate with respect to.",
        examples=["tax"],
    )
    wrt_index: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None,
        max_length=32,
        description="Forward mode with a tensor 'wrt' (required there): its one element, one "
        "index per axis, e.g. [0, 2]; omit for a scalar.",
        examples=[[0, 2]],
    )


class Localized(BaseModel):
    en: str = Field(description="English.")
    ja: str = Field(description="Japanese.")


class InputMeaning(BaseModel):
    """How the summary names one input's gradient."""

    what: Localized = Field(description="The input in words: 'the price of an apple'.")
    change: Localized = Field(description="A small change of it: 'goes up by 1 yen'.")
    step: float = Field(description="That change as a number; the output moves by grad × step.")


class GradientMeaning(BaseModel):
    """The words of the summary at the last step: what each gradient means in the preset's units
    ("if the price of an apple goes up by 1 yen, the price to pay goes up by 2.2 yen")."""

    output: Localized = Field(description="The output in words: 'the price to pay'.")
    unit: Localized = Field(description="The output's unit: ' yen' / '円'.")
    inputs: dict[str, InputMeaning] = Field(description="By input node id.")


class ExampleSummary(BaseModel):
    """A chapter 5 preset."""

    id: str = Field(description="Pass as 'example' to POST /api/trace.")
    section: str = Field(description="The section of chapter 5, e.g. '5.4.1'.")
    group: Localized = Field(description="The section group the picker shows it under.")
    title: Localized
    description: Localized = Field(description="What the book shows with it.")
    meaning: GradientMeaning | None = Field(
        default=None,
        description="What its gradients mean in its units, for the last step's summary; null "
        "where no unit fits (the page then says it generically).",
    )


class ExampleDetail(ExampleSummary):
    graph: GraphSpec = Field(description="The preset's graph spec, with the book's values.")
    dout: Any = Field(description="The upstream gradient the book uses, or null for 1.")


class OpInfo(BaseModel):
    """One op of the catalogue."""

    name: str = Field(description="Its name in a graph spec.")
    arity: int = Field(description="How many inputs it takes.")
    inputs: list[str] = Field(description="The names of its inputs, in port order.")
    symbol: str = Field(description="What its node shows: ×, +, exp, /, ReLU, Affine...")
    box: bool = Field(description="True if drawn as a box (layers) instead of a circle.")
    layer: str | None = Field(description="Its layer class in app/layers.py.")
    forward: str = Field(description="The forward formula.")
    backward: list[str] = Field(description="The gradient formula of each input.")
    params: dict[str, str] = Field(description="Its parameters and what they mean.")
    description: str
    source: str = Field(description="The Python source of its layer class.")
    composite: bool = Field(description="True if it can be drawn as the book's primitive nodes.")
    expands_to: list[str] = Field(
        description="For a composite, the ops of its primitive nodes in order (sigmoid: mul, "
        "exp, add, reciprocal); empty otherwise."
    )
    function: str | None = Field(
        description="Its name in a formula (exp, log, sqrt, ...); null if formulas cannot call it."
    )
    function_params: dict[str, Any] = Field(
        description="The params a call of the function fixes: sqrt is pow with p = 0.5."
    )
    sympy: bool = Field(description="True if the symbolic derivative can write it in sympy.")
    jvp: bool = Field(description="True if it has a forward-mode rule (a JVP).")


class TraceNode(BaseModel):
    id: str
    op: str
    label: str
    labels: dict[str, str] | None = Field(
        description="The node's text in each language of the page (the spec's 'labels'), or null."
    )
    inputs: list[str]
    shape: list[int] = Field(description="[] for a scalar.")
    layer: str | None
    symbol: str
    box: bool
    requires_grad: bool
    params: dict[str, Any]
    composite: bool = Field(description="True for sigmoid and affine: they can be expanded.")
    group: str | None = Field(description="The expanded composite this node belongs to.")


class TraceEdge(BaseModel):
    id: str = Field(description="'source->target:port'.")
    source: str
    target: str
    port: int = Field(description="Which input of the target it feeds (0-based).")


class TraceGraph(BaseModel):
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    output: str
    order: list[str] = Field(description="The topological order, leaves included.")


class SummaryStats(BaseModel):
    min: float | None
    max: float | None
    mean: float | str | None
    std: float | str | None
    norm: float | str | None
    non_finite: int = Field(description="How many elements are NaN or infinite.")


class ArraySummary(Strict):
    """An array over the inline limit: its shape, statistics of its finite elements, and the
    top-left corner (at most 6 x 6) of its last two axes."""

    shape: list[int]
    summary: SummaryStats
    preview: list[Any] = Field(description="A nested list of numbers.")


WireValue = Annotated[
    float | Literal["NaN", "Infinity", "-Infinity"] | list[Any] | ArraySummary,
    Field(description=VALUE_DOC),
]


class StepInput(Strict):
    edge: str = Field(description="'source->target:port'.")
    source: str
    value: WireValue


class StepEdgeGrad(Strict):
    edge: str
    source: str
    port: int
    formula: str = Field(description="The backward formula for this input, e.g. 'dx = dout * y'.")
    local: float | Literal["NaN", "Infinity", "-Infinity"] | None = Field(
        description="The local derivative d out / d input for scalar ops ('NaN', 'Infinity' "
        "or '-Infinity' if not finite); null for tensors."
    )
    grad: WireValue | None = Field(
        description="The gradient sent along this edge (dout times local); null where the "
        "input takes no gradient (the labels t). " + VALUE_DOC
    )


class StepPart(Strict):
    edge: str
    target: str = Field(description="The consumer this part of the gradient came from.")
    grad: WireValue


class ForwardStep(Strict):
    """A node's layer ran forward: the value arriving along each input edge, and its output."""

    phase: Literal["forward"]
    index: int = Field(description="The step's position in 'steps'.")
    node: str
    inputs: list[StepInput] = Field(description="Each input edge, in port order.")
    out: WireValue = Field(description="The output value. " + VALUE_DOC)


class BackwardStep(Strict):
    """A node's layer ran backward: the gradient that arrived, and what it sent along each
    input edge."""

    phase: Literal["backward"]
    index: int
    node: str
    dout: WireValue = Field(description="The gradient that arrived. " + VALUE_DOC)
    edges: list[StepEdgeGrad] = Field(description="The gradient sent along each input edge.")


class AccumulateStep(Strict):
    """A node that feeds several consumers: the gradients arriving from each, and their sum."""

    phase: Literal["accumulate"]
    index: int
    node: str
    parts: list[StepPart] = Field(description="By consumer, in topological order, then by port.")
    sum: WireValue = Field(description="Their sum: the node's gradient. " + VALUE_DOC)


class StepEdgeTangent(Strict):
    edge: str
    source: str
    port: int
    local: float | Literal["NaN", "Infinity", "-Infinity"] | None = Field(
        description="The local derivative d out / d input for scalar ops, what the tangent "
        "along this edge is multiplied by; null for tensors."
    )
    tangent: WireValue | None = Field(
        description="d source / d wrt arriving along this edge; null where the source does not "
        "depend on wrt (a zero tangent). " + VALUE_DOC
    )


class TangentStep(Strict):
    """Forward mode: a node's JVP ran on the tangents arriving along its input edges."""

    phase: Literal["tangent"]
    index: int
    node: str
    edges: list[StepEdgeTangent] = Field(description="The tangent along each input edge.")
    tangent: WireValue = Field(description="d node / d wrt: the node's tangent. " + VALUE_DOC)


Step = Annotated[
    ForwardStep | BackwardStep | AccumulateStep | TangentStep, Field(discriminator="phase")
]


class Warning_(BaseModel):
    code: str = Field(description="overflow, nan, gradient_overflow, no_gradient.")
    node: str
    message: str


class TraceResponse(BaseModel):
    """A whole trace: the graph, the steps in order, every value and gradient, warnings."""

    graph: TraceGraph
    steps: list[Step]
    values: dict[str, Any] = Field(description="Forward value of every node. " + VALUE_DOC)
    grads: dict[str, Any] = Field(
        description="d output / d node for every node; null where the gradient does not reach "
        "and for inputs with requires_grad false."
    )
    warnings: list[Warning_]
    dout: Any = Field(description="The gradient fed into the output.")
    symbolic: Symbolic | None = Field(
        default=None, description="For an expression: sympy's derivatives beside backprop's."
    )
    mode: Literal["reverse", "forward"] = Field(
        default="reverse",
        description="'reverse': the steps are forward, backward and accumulate steps. "
        "'forward': forward then tangent steps (grads are still reverse mode's, to compare).",
    )
    passes: Passes | None = Field(
        default=None, description="How many passes each mode needs for the whole gradient."
    )
    wrt: WrtElement | None = Field(
        default=None, description="Forward mode: the input element the tangents are for."
    )
    tangents: dict[str, Any] | None = Field(
        default=None,
        description="Forward mode: d node / d wrt for every node; null where the node does not "
        "depend on wrt (zero). The output's equals grads[wrt] at that element. " + VALUE_DOC,
    )


class Passes(BaseModel):
    """Reverse mode gets every input's gradient in one backward pass; forward mode gets one
    input element's per pass."""

    reverse: int = Field(description="Always 1.")
    forward: int = Field(
        description="One per element of every input that takes a gradient: 3 for apple, "
        "39,760 for two_layer_net_book (W1, b1, W2, b2)."
    )


class WrtElement(BaseModel):
    node: str = Field(description="The input node.")
    index: list[int] = Field(description="The element; [] for a scalar.")


class SymbolicDerivative(BaseModel):
    text: str = Field(description="d output / d variable as sympy prints it, e.g. '2*x + 2*y'.")
    value: float | None = Field(
        description="Its value at the current variables (null for "
        "array variables or where it is undefined)."
    )


class Symbolic(BaseModel):
    """The derivative of an expression's output by sympy, built from the parsed tree."""

    formula: str | None = Field(description="The output as one formula, e.g. '(x + y)**2'.")
    derivatives: dict[str, SymbolicDerivative] = Field(description="By variable.")
    note: str | None = Field(description="Why the derivative was skipped, if it was.")


class ParseRequest(Strict):
    expression: str = Field(
        description="A formula, as for POST /api/trace.", examples=["t = x + y\nz = t ** 2"]
    )


class ParseResponse(BaseModel):
    graph: GraphSpec = Field(description="The graph spec of the expression.")
    variables: list[str] = Field(description="Its variables: the input nodes to set.")


class GradcheckRequest(TraceSource):
    """What /api/trace takes, plus the settings of the numerical side."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": EXACTLY_ONE_SOURCE,
            "examples": [
                {"example": "apple"},
                {"expression": "(x + y) ** 2", "values": {"x": 1, "y": 2}, "h": 1e-5},
                {"graph": SMALL_GRAPH, "rtol": 1e-6, "max_evaluations": 100, "seed": 1},
            ],
        }
    )

    h: float = Field(
        default=1e-4,
        gt=0,
        le=1,
        description="The step of the central difference (the book's 1e-4).",
    )
    rtol: float = Field(default=1e-5, ge=0, le=1, description="Relative tolerance.")
    atol: float = Field(default=1e-7, ge=0, le=1, description="Absolute tolerance.")
    max_evaluations: int = Field(
        default=2000,
        ge=2,
        le=20000,
        description="Forward passes the numerical side aims at; past it, large leaves are "
        "checked on a seeded random sample of their elements (at least 20 per leaf, so a tiny "
        "budget can be exceeded); a 3-second time limit applies as well.",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the sample.")


class PathsRequest(TraceSource):
    """What /api/trace takes (its graph, example or expression), plus the input and the node
    the paths join."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": EXACTLY_ONE_SOURCE,
            "examples": [
                {"example": "olah_fork", "from": "b"},
                {"example": "cs231n_circuit", "from": "z"},
                {"example": "apple", "from": "tax", "to": "price"},
                {"example": "cs231n_neuron", "from": "x0", "expand": ["f"]},
                {"expression": "z = x * x + x", "values": {"x": 3}, "from": "x"},
                {"graph": SMALL_GRAPH, "from": "y"},
            ],
        }
    )

    from_: str = Field(
        alias="from",
        max_length=200,
        description="The id of an input node that takes a gradient: where the paths start.",
        examples=["b"],
    )
    to: str | None = Field(
        default=None,
        max_length=200,
        description="The id of the node where the paths end; default the output.",
        examples=["e"],
    )


class PathEdge(BaseModel):
    edge: str = Field(description="'source->target:port'.")
    source: str
    target: str
    port: int
    local: float | str | None = Field(
        description="The local derivative d target / d source ('NaN', 'Infinity' or "
        "'-Infinity' if not finite)."
    )


class GraphPath(BaseModel):
    edges: list[PathEdge] = Field(description="From 'from' to 'to', in order.")
    product: float | str | None = Field(
        description="The product of the local derivatives along the path."
    )


class PathsResponse(BaseModel):
    """Every path from an input to a node, the product of the local derivatives along each,
    and their sum: the derivative (the chain rule on a graph)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="The input the paths start at.")
    to: str = Field(description="The node they end at.")
    count: int = Field(description="How many paths there are (at most 1,000 are listed).")
    paths: list[GraphPath] = Field(
        description="Each path, ordered by the nodes it passes; empty if 'to' does not depend "
        "on 'from'."
    )
    sum: float | str | None = Field(description="The sum of the paths' products.")
    derivative: float | str | None = Field(
        description="d to / d from by forward mode; equal to 'sum', and for the output to the "
        "gradient of 'from' in POST /api/trace."
    )
    value: float | str | None = Field(description="The value of 'to'.")


class GradcheckLeaf(BaseModel):
    node: str
    label: str
    shape: list[int]
    elements: int
    checked: int = Field(description="Elements differentiated numerically.")
    sampled: bool = Field(description="True if only a sample of the elements was checked.")
    max_abs_error: float | str | None = Field(
        description="The largest |numerical - backprop| ('NaN' if one is not a number)."
    )
    max_rel_error: float | str | None = Field(
        description="The largest |numerical - backprop| / max(|numerical|, |backprop|)."
    )
    ok: bool | None = Field(
        description="Every checked element within atol + rtol * max(|each|); null if the time "
        "limit left this leaf unchecked."
    )
    backprop: Any = Field(default=None, description="The whole gradient, for small leaves.")
    numerical: Any = Field(default=None, description="The whole numerical gradient.")
    samples: list[dict[str, Any]] | None = Field(
        default=None, description="For large or sampled leaves: {index, backprop, numerical}."
    )


class GradcheckSkipped(BaseModel):
    node: str
    label: str
    reason: str = Field(description="Why the leaf was not checked.")


class GradcheckEstimate(BaseModel):
    """The speed-up from comparable timings: forward-and-backward and forward passes, neither
    recording anything, interleaved, medians of the rounds."""

    rounds: int
    forward_seconds: float = Field(description="One forward pass (the numerical side's unit).")
    backprop_seconds: float = Field(description="One forward and backward pass.")
    numerical_seconds_all: float = Field(
        description="A full numerical gradient: two forward passes per element."
    )
    speedup: float | None = Field(description="numerical_seconds_all / backprop_seconds.")


class GradcheckResponse(BaseModel):
    """The book's gradient check (5.7.3) for every leaf that takes a gradient."""

    ok: bool = Field(description="True if the check is complete and every checked leaf passed.")
    complete: bool = Field(
        description="True if every element the check chose was checked (false if the time "
        "limit stopped it first; then ok is false)."
    )
    h: float
    rtol: float
    atol: float
    leaves: list[GradcheckLeaf]
    skipped: list[GradcheckSkipped] = Field(
        description="Leaves not perturbed: data (such as the labels t of Softmax-with-Loss, "
        "class indices or one-hot) and leaves the gradient does not reach."
    )
    elements: int = Field(description="Elements of all checked leaves.")
    checked: int
    evaluations: int = Field(description="Forward passes the numerical side ran.")
    timed_out: bool = Field(description="True if the time limit stopped the numerical side.")
    backprop_seconds: float = Field(description="One traced forward and backward pass.")
    numerical_seconds: float = Field(description="The numerical side, as run.")
    numerical_seconds_all: float = Field(
        description="The numerical side extrapolated to every element."
    )
    speedup: float | None = Field(
        description="numerical_seconds_all / backprop_seconds, as run (varies from run to run; "
        "see estimate)."
    )
    estimate: GradcheckEstimate
    summary: str = Field(
        description="The extrapolation in a sentence.",
        examples=[
            "1,036 of 39,760 elements checked; a full numerical gradient would take ~16 s "
            "(79,520 forward passes of 200 µs), ~29,000x the time of one backprop."
        ],
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str


TraceResponse.model_rebuild()
