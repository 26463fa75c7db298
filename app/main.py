"""The ASGI app at module level, as FastAPI deployments expect: ``uvicorn backprop_viz.main:app``.

Its limits come from the environment (``BPV_*``) when this module is imported. Code that wants
its own limits calls ``backprop_viz.web.app.create_app(Settings(...))`` instead.
"""

from __future__ import annotations

from backprop_viz.web.app import create_app

app = create_app()
