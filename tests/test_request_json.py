"""The audit row keeps the text that was sent, byte for byte, not a re-serialisation of it."""

from __future__ import annotations

import pytest

from api.request_json import field_text
from tests.test_routes import JSON, assert_answer

ROW_TEXT = [
    # (id, body, code, what the row's imgb64_dirty holds)
    ("huge-number", b'{"imgb64_dirty": 1e400}', 3, "1e400"),
    ("duplicate-keys-no-field", b'{"note":"first","note":"second"}', 2,
     '{"note":"first","note":"second"}'),
    ("number-forms", b'{"imgb64_dirty": [1.0, 1E2, -0, 0.10]}', 3, "[1.0, 1E2, -0, 0.10]"),
    ("nested-duplicates", b'{ "imgb64_dirty" :\t{"a":1,"a":2} }', 3, '{"a":1,"a":2}'),
    ("last-field-wins", b'{"imgb64_dirty": "x", "k": [], "imgb64_dirty": 12.50}', 3, "12.50"),
    ("escapes-kept", b'{"n\\u00e9": "\\u00e9\\/"}', 2, '{"n\\u00e9": "\\u00e9\\/"}'),
    ("not-an-object", b' [1e400, {"a": 1, "a": 2}] ', 1, ' [1e400, {"a": 1, "a": 2}] '),
    ("key-in-a-string", b'{"k": "\\"imgb64_dirty\\": 1", "imgb64_dirty": null}', 3, "null"),
]


@pytest.mark.parametrize(("body", "code", "stored"), [case[1:] for case in ROW_TEXT],
                         ids=[case[0] for case in ROW_TEXT])
def test_the_row_keeps_the_text_that_was_sent(live, body, code, stored):
    server, database = live
    response = server.post(data=body, headers=JSON)
    assert_answer(response, code)
    row = database.row(response.headers["X-Request-ID"])
    assert (row["codigo_retorno"], row["imgb64_dirty"]) == (code, stored)


def test_field_text_walks_only_the_top_level():
    text = '{"a": {"imgb64_dirty": 1}, "imgb64_dirty" : [ 2 ] , "b": "imgb64_dirty"}'
    assert field_text(text, "imgb64_dirty") == "[ 2 ]"
