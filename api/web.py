"""GET /: a small page that cleans a picked or dropped image by calling /remove_background.

Plain files from api/static, no build step and nothing from outside: the Content-Security-Policy
lets the page load and call only this origin, so it works where there is no internet.
"""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.get("/")
def index() -> Response:
    return bp.send_static_file("index.html")


@bp.after_request
def page_policy(response: Response) -> Response:
    """Every file of the page, /static/index.html as much as /, carries the policy: a copy
    served without it could be framed by another site."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
