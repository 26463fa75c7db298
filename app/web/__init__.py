"""The web app: FastAPI routes, the request and response schemas, the page."""
