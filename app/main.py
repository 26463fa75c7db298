"""The ASGI app at module level, as FastAPI deployments expect: ``uvicorn backprop_viz.main:app``.

Its limits come from the environment (``BPV_*``) when this module is imported. Code that wants
its own limits calls ``backprop_viz.web.app.create_app(Settings(...))`` instead.
"""

from __future__ import annotations

import sys

from backprop_viz.settings import Settings, SettingsError
from backprop_viz.web.app import create_app

# uvicorn's code for "the worker failed before it started serving" (uvicorn.config
# STARTUP_FAILURE): its supervisor then stops instead of restarting the worker for ever, so even
# `uvicorn backprop_viz.main:app --workers 2` with a bad BPV_* value exits at once.
STARTUP_FAILURE = 3

try:
    settings = Settings.from_env()
except SettingsError as e:
    print(e, file=sys.stderr)
    raise SystemExit(STARTUP_FAILURE) from None
app = create_app(settings)
