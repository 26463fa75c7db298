# backprop-viz: the web app on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/backprop-viz
COPY pyproject.toml README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
# The dependencies come from the package; the app runs from this folder, beside static/ and
# templates/, hence `python -m app.cli` rather than the installed entry point.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 viz

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]
CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "8000"]
