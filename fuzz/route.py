"""Fuzzes POST /remove_background as a WSGI call, with the shipped model and a real MariaDB.

    python -m fuzz.route [libFuzzer flags, e.g. -max_total_time=1800 var/fuzz/route]

The first input byte picks the Content-Type, the second how the rest becomes the body: as it
is, as the image of a JSON request (raw base64 or a data URL), or as text in the image field.
Every answer must be the API's JSON with a known code (never 7), the status that code has, an
X-Request-ID, no-store, and exactly one MySQL row with that code.
"""

from __future__ import annotations

import base64
import json
import uuid

import atheris

from fuzz import run

with atheris.instrument_imports(include=["api", "pagework", "PIL"]):
    from PIL import Image

    Image.init()  # the format plugins, imported here so that they are instrumented too
    from api.app import create_app
    from pagework.codes import HTTP_STATUS, MESSAGES, Code

CONTENT_TYPES = ["application/json", "application/problem+json", "text/plain", "",
                 "application/json; charset=utf-16", "multipart/form-data; boundary=x"]


class Route:
    """The app and a throw-away database, made once per fuzzing process."""

    def __init__(self) -> None:
        # Set-up only, outside atheris.instrument_imports: coverage is the request path's.
        import mysql.connector

        from api.log.schema import apply_schema
        from api.log.store import connection_params
        from pagework.config import from_env

        self.database = f"ddd_fuzz_{uuid.uuid4().hex[:8]}"
        config = from_env().with_overrides({"mysql_database": self.database,
                                            "max_pixels": 1_000_000, "log_level": "ERROR"})
        apply_schema(config)
        self.cnx = mysql.connector.connect(**connection_params(config), database=self.database,
                                           autocommit=True)
        self.client = create_app(config).test_client()
        self.calls = 0

    def check(self, data: bytes) -> None:
        content_type = CONTENT_TYPES[data[0] % len(CONTENT_TYPES)] if data else ""
        body = make_body(data[1:2], data[2:])
        headers = {"Content-Type": content_type} if content_type else {}
        response = self.client.post("/remove_background", data=body, headers=headers)
        answer = json.loads(response.get_data())
        code = answer["codigo_retorno"]
        assert code in MESSAGES and code != Code.INTERNAL, answer
        assert answer["mensagem"] == MESSAGES[code]
        assert response.status_code == HTTP_STATUS[code], (response.status_code, answer)
        assert (answer["imgb64_clean"] != "") == (code == Code.OK)
        assert response.headers["Cache-Control"] == "no-store"
        cursor = self.cnx.cursor()
        cursor.execute("SELECT codigo_retorno FROM Imagens WHERE request_id = %s",
                       (response.headers["X-Request-ID"],))
        assert cursor.fetchall() == [(code,)], "not exactly one row with the answer's code"
        cursor.close()


def make_body(kind: bytes, rest: bytes) -> bytes:
    choice = kind[0] % 4 if kind else 0
    if choice == 0:
        return rest
    if choice == 1:
        return json.dumps({"imgb64_dirty": base64.b64encode(rest).decode()}).encode()
    if choice == 2:
        url = "data:image/png;base64," + base64.b64encode(rest).decode()
        return json.dumps({"imgb64_dirty": url}).encode()
    text = rest.decode("utf-16-le", "surrogatepass") if len(rest) % 2 == 0 else rest.decode(
        "latin-1")
    return json.dumps({"imgb64_dirty": text}).encode()


def main() -> None:
    run(Route().check)


if __name__ == "__main__":
    main()
