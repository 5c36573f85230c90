"""The response codes clients depend on: codes, messages and statuses never change, only grow."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    BAD_REQUEST = 1
    MISSING_KEY = 2
    BAD_IMAGE = 3
    TOO_LARGE = 4
    MODEL_UNAVAILABLE = 5
    UNAUTHORIZED = 6
    INTERNAL = 7
    LOG_UNAVAILABLE = 8
    PAGE_SHAPE = 9
    BAD_MODE = 10
    MODE_UNAVAILABLE = 11


MESSAGES: dict[Code, str] = {
    Code.OK: "Imagem processada com sucesso",
    Code.BAD_REQUEST: "Erro na requisição",
    Code.MISSING_KEY: "Chave imgb64_dirty não encontrada",
    Code.BAD_IMAGE: "Problema na string base 64 referente a chave imgb64_dirty",
    Code.TOO_LARGE: "Imagem excede o tamanho máximo permitido",
    Code.MODEL_UNAVAILABLE: "Serviço de inferência indisponível",
    Code.UNAUTHORIZED: "Chave de API ausente ou inválida",
    Code.INTERNAL: "Erro interno do serviço",
    Code.LOG_UNAVAILABLE: "Não foi possível registrar a requisição",
    Code.PAGE_SHAPE: "Proporções da página não suportadas",
    Code.BAD_MODE: "Valor inválido na chave saida",
    Code.MODE_UNAVAILABLE: "Modo de saída não disponível nesta versão do modelo",
}

HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.BAD_REQUEST: 400,
    Code.MISSING_KEY: 400,
    Code.BAD_IMAGE: 400,
    Code.TOO_LARGE: 413,
    Code.MODEL_UNAVAILABLE: 503,
    Code.UNAUTHORIZED: 401,
    Code.INTERNAL: 500,
    Code.LOG_UNAVAILABLE: 503,
    Code.PAGE_SHAPE: 400,
    Code.BAD_MODE: 400,
    Code.MODE_UNAVAILABLE: 501,
}


# When each code is answered: the last column of the table in the README and the OpenAPI document.
WHEN: dict[Code, str] = {
    Code.OK: "cleaned",
    Code.BAD_REQUEST: "body not JSON, not an object, Content-Type not `application/json` "
                      "(also 404/405 answers)",
    Code.MISSING_KEY: "the key `imgb64_dirty` is missing",
    Code.BAD_IMAGE: "not a string, invalid base64, not a decodable image",
    Code.TOO_LARGE: "over `MAX_IMAGE_BYTES`, `MAX_PIXELS` or `MAX_WORK_PIXELS` (checked before "
                    "pixels are decoded)",
    Code.MODEL_UNAVAILABLE: "the model server is down or timed out: retry later",
    Code.UNAUTHORIZED: "`API_KEY` is set and `X-API-Key` is missing or wrong",
    Code.INTERNAL: "a bug; tests and fuzzers check that no input reaches it",
    Code.LOG_UNAVAILABLE: "neither MySQL nor the local spool could store the request's row "
                          "(e.g. MySQL down and the disk full): nothing is served unlogged; "
                          "retry later",
    Code.PAGE_SHAPE: "the longer side is more than `MAX_ASPECT_RATIO` times the shorter "
                     "(checked before pixels are decoded)",
    Code.BAD_MODE: "`saida` is not `cinza`, `cor` or `binaria` (any other text, or not a text; "
                   "checked before the image)",
    Code.MODE_UNAVAILABLE: "`saida` is `cor` or `binaria` and the served model version was "
                           "exported before the output modes: serve version 5 or later",
}


def code_table() -> str:
    """The code table as Markdown: the README's and /openapi.json's, so neither can drift."""
    rows = [f"| {int(code)} | {MESSAGES[code]} | {HTTP_STATUS[code]} | {WHEN[code]} |"
            for code in Code]
    return "\n".join(["| `codigo_retorno` | `mensagem` | HTTP | when |", "|---|---|---|---|",
                      *rows])


class ApiError(Exception):
    """A request that ends with a known code; `detail` tells the client what to fix."""

    def __init__(self, code: Code, detail: str = "") -> None:
        super().__init__(detail or MESSAGES[code])
        self.code = code
        self.detail = detail
        self.page_size: tuple[int, int] | None = None  # set once the page's size is known


def body(code: Code, clean: str = "", detail: str = "") -> dict[str, object]:
    """The response body: the original three keys, plus `detalhe` on errors."""
    payload: dict[str, object] = {
        "codigo_retorno": int(code),
        "mensagem": MESSAGES[code],
        "imgb64_clean": clean,
    }
    if detail:
        payload["detalhe"] = detail
    return payload


if __name__ == "__main__":
    print(code_table())
