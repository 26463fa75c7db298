"""The security headers of every answer: a strict Content-Security-Policy and no sniffing."""

from __future__ import annotations

# Scripts and styles from this server only: no inline script anywhere, /docs included.
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**changes: str) -> str:
    """The policy as a header value; a page that needs more names the directives it changes,
    ``style_src="'self' 'nonce-...'"``."""
    policy = {**POLICY, **{name.replace("_", "-"): value for name, value in changes.items()}}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


CONTENT_SECURITY_POLICY = content_security_policy()


# Computed once: every response of the app gets them (``web.guard.RequestGuard`` adds them).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
CSP_HEADER = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A response's headers with the security headers added. A response that sets its own
    Content-Security-Policy (ReDoc's page, with a nonce for its styles) keeps it: two policies
    would both apply."""
    own_policy = any(name.lower() == b"content-security-policy" for name, _ in headers)
    if own_policy:
        return [*headers, *SECURITY_HEADERS]
    return [*headers, *SECURITY_HEADERS, CSP_HEADER]
