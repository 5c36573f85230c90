"""The response contract: `pagework/codes.py` is its one source, pinned here once, and the README's
table is generated from it."""

from __future__ import annotations

import re
from pathlib import Path

from pagework.codes import HTTP_STATUS, MESSAGES, Code, code_table

README = Path(__file__).resolve().parents[1] / "README.md"

# The original service's codes 0-3 and the codes added since: clients depend on every pair, so a
# change to pagework/codes.py that alters one must fail here (codes may only be added).
CONTRACT = {
    0: ("Imagem processada com sucesso", 200),
    1: ("Erro na requisição", 400),
    2: ("Chave imgb64_dirty não encontrada", 400),
    3: ("Problema na string base 64 referente a chave imgb64_dirty", 400),
    4: ("Imagem excede o tamanho máximo permitido", 413),
    5: ("Serviço de inferência indisponível", 503),
    6: ("Chave de API ausente ou inválida", 401),
    7: ("Erro interno do serviço", 500),
    8: ("Não foi possível registrar a requisição", 503),
    9: ("Proporções da página não suportadas", 400),  # issue 28: thin or elongated pages
    10: ("Valor inválido na chave saida", 400),  # issue 36: output modes
    11: ("Modo de saída não disponível nesta versão do modelo", 501),
}


def test_codes_messages_and_statuses_never_change():
    assert {int(code): (MESSAGES[code], HTTP_STATUS[code]) for code in Code} == CONTRACT


def test_readme_table_is_the_generated_one():
    text = README.read_text()
    found = re.search(r"<!-- codes:begin[^>]*-->\n(.*?)\n<!-- codes:end -->", text, re.S)
    assert found, "README lost its code table markers"
    assert found.group(1) == code_table(), "regenerate it: python -m pagework.codes"
