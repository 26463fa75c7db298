"""The application: the API router, the page at /, its static files and the safety limits."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from backprop_viz import __version__
from backprop_viz.settings import Settings
from backprop_viz.web.docs import install_docs
from backprop_viz.web.errors import SafeJSONResponse, install_error_handlers
from backprop_viz.web.guard import RequestGuard
from backprop_viz.web.limits import HeavyWork
from backprop_viz.web.routes import router
from backprop_viz.web.training import router as training_router

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The page's ``static`` or ``templates`` folder: inside the installed package (a wheel puts
    them there), else beside the source folder ``app/`` (a checkout or an editable install)."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"backprop-viz is installed without its {name}/ folder")


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes as the app's own. FastAPI 0.165's ``include_router`` keeps the
    router and matches a request through it (the app's routes, then the router's: ~10 route
    checks), about 15 µs of apple's 143 µs in process. The routes carry what including would
    give them: the prefix and the tags (APIRouter applies both as each route is made) and the
    app's response class (``SafeJSONResponse``, the routers' default)."""
    app.router.routes.extend(router.routes)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app with its limits (from the environment unless given)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="backprop-viz",
        version=__version__,
        description="Step-by-step forward and backward traces of the computational graphs of "
        "Deep Learning from Scratch, chapter 5.",
        # FastAPI's own JSON response cannot encode a lone surrogate a client sent in an id.
        default_response_class=SafeJSONResponse,
        # FastAPI's /docs and /redoc load from a CDN with an inline script; ours are vendored
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.heavy_work = HeavyWork(settings)
    add_routes(app, router)
    install_docs(app)
    add_routes(app, training_router)
    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")
    templates = Jinja2Templates(directory=resource_dir("templates"))

    @app.get("/", include_in_schema=False)
    def get_page(request: Request):
        """The interactive page."""
        return templates.TemplateResponse(request, "index.html", {"version": __version__})

    install_error_handlers(app)
    # One middleware for the security headers, the catch-all, the body's limits, heavy work's
    # admission and HEAD (see web.guard): the security headers go on every response, the 413
    # and the catch-all's 500 included.
    app.add_middleware(RequestGuard, settings=settings, heavy_work=app.state.heavy_work)
    return app
