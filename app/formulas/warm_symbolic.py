"""Imported by the symbolic workers' fork server (see app.formulas.workers): warms sympy and
lambdify up once there, so that every worker forked from it starts warm."""

from backprop_viz.formulas.symbolic import warm_up

try:
    warm_up()
except Exception:  # noqa: BLE001 - a worker warms itself up again; the fork server must live
    pass
