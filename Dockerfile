# backprop-viz: the web app on port 8000, installed from its wheel (the page's files inside it).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim

# Two workers at least: uvicorn's supervisor replaces one that dies or stops answering its
# ping, while the other serves. The limits (BPV_*) are per worker; see the README.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BPV_WORKERS=2

COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl \
    && rm -rf /dist \
    && useradd --create-home --uid 10001 viz

USER 10001
WORKDIR /home/viz
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]
CMD ["backprop-viz", "serve", "--host", "0.0.0.0", "--port", "8000"]
