"""GET /openapi.json: a valid OpenAPI 3.1 document of every route, whose examples and code table
are what the live service answers; then schemathesis fuzzes the live service from it."""

from __future__ import annotations

import os
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.openapi import build_spec
from pagework.codes import HTTP_STATUS, MESSAGES, Code
from pagework.config import Config
from tests.conftest import FUZZ_EXAMPLES

FUZZ_KEY = "chave-do-fuzzer"
AUTH = {"X-API-Key": FUZZ_KEY}  # explicit: schemathesis then also checks requests without it
ROW_ROUTE = "/remove_background"
# The same cases on every run, so CI is repeatable; FUZZ_RANDOM=1 explores new ones.
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"


@pytest.fixture(scope="module")
def spec(live) -> dict:
    server, _ = live
    response = requests.get(server.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def schema_validator(spec: dict, schema: dict) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator whose `#/components/...` refs resolve in `spec`."""
    return Draft202012Validator({**schema, "components": spec["components"]})


@pytest.mark.parametrize("api_key", ["", "k"], ids=["open", "with-api-key"])
def test_document_is_valid_openapi_3_1(api_key):
    spec = build_spec(Config(api_key=api_key))
    validate(spec)  # openapi-spec-validator picks the 3.1 rules from the `openapi` field
    assert spec["openapi"] == "3.1.0"
    security = spec["paths"]["/remove_background"]["post"]["security"]
    assert security == ([{"ApiKey": []}] if api_key else [])


def test_served_document_is_valid_and_matches_the_config(live, spec):
    server, _ = live
    validate(spec)
    assert spec == build_spec(server.services.config)


def test_every_route_is_documented(live, spec):
    server, _ = live
    routes = set()
    for rule in server.app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented


def test_code_table_and_answer_schemas_equal_api_codes(spec):
    table = re.findall(r"^\| (\d+) \| ([^|]+) \| (\d{3}) \|", spec["info"]["description"], re.M)
    assert {Code(int(code)): (message.strip(), int(status)) for code, message, status in table} \
        == {code: (MESSAGES[code], HTTP_STATUS[code]) for code in Code}
    schemas = spec["components"]["schemas"]
    for code in Code:
        properties = schemas[f"Answer{int(code)}"]["properties"]
        assert properties["codigo_retorno"]["const"] == code
        assert properties["mensagem"]["const"] == MESSAGES[code]


def test_every_code_has_a_response_example_that_fits_its_schema(spec):
    responses = spec["paths"]["/remove_background"]["post"]["responses"]
    seen = set()
    for status, response in responses.items():
        assert response["headers"]["X-Request-ID"]
        media = response["content"]["application/json"]
        validator = schema_validator(spec, media["schema"])
        for example in media["examples"].values():
            validator.validate(example["value"])
            code = Code(example["value"]["codigo_retorno"])
            assert example["value"]["mensagem"] == MESSAGES[code]
            assert HTTP_STATUS[code] == int(status)
            seen.add(code)
    assert seen == set(Code)


def test_request_examples_get_the_documented_code(live, spec):
    """Each documented request body, sent as it stands, answers what its name says."""
    server, database = live
    operation = spec["paths"]["/remove_background"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    for name, example in examples.items():
        expected = int(name.removeprefix("code-")) if name.startswith("code-") else 0
        response = server.post(example["value"])
        answer = response.json()
        assert answer["codigo_retorno"] == expected, (name, answer)
        media = operation["responses"][str(response.status_code)]["content"]["application/json"]
        schema_validator(spec, media["schema"]).validate(answer)
        assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == expected


# --- The fuzzer: schemathesis against a live service of its own (API key on, own database) ------
# The document is the one that service serves (asserted below); loaded at import so that
# schemathesis makes one test per operation, each running its examples, coverage and fuzzing
# phases, valid and invalid data alike.

fuzz_schema = schemathesis.openapi.from_dict(build_spec(Config(api_key=FUZZ_KEY)))
fuzz_schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    with_security_parameters=False,  # the key is ours and valid; the checks also try without it
)


@pytest.fixture(scope="module")
def fuzz_server(start_module_server):
    server, database = start_module_server(api_key=FUZZ_KEY)
    assert requests.get(server.url + "/openapi.json", timeout=10).json() == fuzz_schema.raw_schema
    return server, database


@fuzz_schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
def test_fuzzer_finds_no_server_error_and_every_request_has_a_row(case, fuzz_server):
    """Schemathesis' checks: status, content type, headers and body conform to the document;
    invalid data rejected; auth not ignored; undocumented methods answered 405. No 5xx (the
    documented 503 needs a model server that is down). Then one MySQL row for every request
    that reached /remove_background, the checks' own extra requests included (counted by the
    service's ddd_requests_total)."""
    server, database = fuzz_server
    excluded = [not_a_server_error]
    if case.operation.path == ROW_ROUTE:  # base64 text that is no image fits any JSON Schema
        excluded.append(positive_data_acceptance)  # and is code 3 (400), as documented
    rows_before, served_before = database.count(), requests_total(server)
    response = case.call_and_validate(base_url=server.url, headers=AUTH, excluded_checks=excluded)
    assert response.status_code < 500, response.text
    served = requests_total(server) - served_before
    assert database.count() - rows_before == served
    if case.operation.path == ROW_ROUTE and case.method == "POST":
        assert served >= 1
        database.row(response.headers["x-request-id"][0])  # schemathesis: lower-case, lists
    else:
        assert served == 0  # only POST /remove_background logs a row


def test_405_lists_allowed_methods(live):
    """RFC 9110: a 405 names the methods the resource allows (schemathesis' unsupported_method)."""
    server, _ = live
    response = requests.put(server.url + "/health", timeout=10)
    assert response.status_code == 405
    assert response.json()["codigo_retorno"] == Code.BAD_REQUEST
    assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) >= {"GET", "HEAD"}


def requests_total(server) -> int:
    """Requests /remove_background answered, all codes, from the service's Prometheus counter."""
    text = requests.get(server.url + "/metrics", headers=AUTH, timeout=10).text
    return int(sum(float(value) for value in
                   re.findall(r'^ddd_requests_total\{[^}]*\} (\S+)$', text, re.M)))
