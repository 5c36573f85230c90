"""bfloat16 mixed precision (`MIXED_PRECISION=bfloat16`, the stand-in's `--mixed_precision`): the
float32 SavedModel rewritten at load, as TF Serving's flag does, in the processes users run."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import requests
from PIL import Image

from bench.colour_pages import colour_page
from bench.processes import running_api, running_model_server
from pagework.backends.in_process import InProcessBackend
from tests.conftest import ROOT, decode_clean, page_png
from tfmodel import precision as mixed_precision

SHIPPED = ROOT / "serving" / "models" / "autoencoder"
NATIVE = mixed_precision.unsupported_reason()
needs_native = pytest.mark.skipif(bool(NATIVE), reason=f"bfloat16 not native here: {NATIVE}")


def test_reason_names_what_is_missing(tmp_path):
    assert "neither AVX512-BF16 nor AMX-BF16" in mixed_precision.unsupported_reason(
        {"avx2", "avx512f"}, {})
    assert "TF_ENABLE_ONEDNN_OPTS" in mixed_precision.unsupported_reason(
        {"amx_bf16"}, {"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert mixed_precision.unsupported_reason({"avx512_bf16"}, {}) == ""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\n")
    assert mixed_precision.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert mixed_precision.cpu_flags(tmp_path / "absent") == set()


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="valid options are 'bfloat16'"):
        mixed_precision.enable(None, "float16")


def test_in_process_backend_refuses_where_it_would_be_slow(monkeypatch):
    monkeypatch.setattr(mixed_precision, "unsupported_reason", lambda: "no bf16 on this CPU")
    with pytest.raises(ValueError, match="MIXED_PRECISION=bfloat16: no bf16 on this CPU"):
        InProcessBackend(str(SHIPPED), mixed_precision="bfloat16")


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image, dtype=np.int16)


def _close_but_rewritten(bf16: np.ndarray, fp32: np.ndarray) -> None:
    """Rewritten (some pixel moved) but within what 8-bit output can show."""
    diff = np.abs(bf16 - fp32)
    assert diff.max() > 0, "identical to float32: the bfloat16 rewrite did not run"
    assert diff.max() <= 8 and diff.mean() < 0.5, (diff.max(), diff.mean())


@pytest.fixture(scope="module")
def float32_answer():
    """The page and the shipped model's float32 answer, in this (float32) process."""
    page = page_png(540, 420, seed=3)
    return page, _pixels(InProcessBackend(str(SHIPPED)).clean(page))


@needs_native
def test_api_under_gunicorn_answers_in_bfloat16(float32_answer, make_database, tmp_path):
    page, fp32 = float32_answer
    database = make_database()
    env = {"MODEL_DIR": str(SHIPPED), "MYSQL_DATABASE": database.name, "MIXED_PRECISION":
           "bfloat16", "SPOOL_DIR": str(tmp_path / "spool"), "WEB_CONCURRENCY": "1"}
    with running_api(env, tmp_path / "api.log") as api:
        answer = requests.post(api.url + "/remove_background", timeout=120,
                               json={"imgb64_dirty": base64.b64encode(page).decode()})
    assert answer.json()["codigo_retorno"] == 0
    _close_but_rewritten(np.asarray(decode_clean(answer), dtype=np.int16), fp32)
    assert database.count() == 1
    assert ", bfloat16 mixed precision" in api.log_text()


def _predict(server, page: bytes, signature: str = "serving_default") -> np.ndarray:
    body = {"signature_name": signature,
            "instances": [{"b64": base64.b64encode(page).decode()}]}
    answer = requests.post(f"{server.url}/v1/models/autoencoder:predict", json=body, timeout=120)
    answer.raise_for_status()
    return _pixels(base64.b64decode(answer.json()["predictions"][0]["b64"]))


@needs_native
def test_stand_in_takes_tf_servings_flag(float32_answer, tmp_path):
    page, fp32 = float32_answer
    with running_model_server(SHIPPED, tmp_path / "serving.log",
                              extra=["--mixed_precision=bfloat16"]) as server:
        bf16 = _predict(server, page)
    _close_but_rewritten(bf16, fp32)
    assert "Running inference with bfloat16 auto mixed precision" in server.log_text()


def test_stand_in_warns_about_other_values_and_stays_float32(float32_answer, tmp_path):
    page, fp32 = float32_answer
    with running_model_server(SHIPPED, tmp_path / "serving.log",
                              extra=["--mixed_precision=float16"]) as server:
        same = _predict(server, page)
    assert np.array_equal(same, fp32)
    assert ("float16 auto mixed precision is not supported. Valid option: bfloat16"
            in server.log_text())


@needs_native
def test_output_modes_hold_in_bfloat16(tmp_path):
    """cor and binaria under the stand-in's bfloat16 rewrite: nearly every colour within a few
    8-bit levels of float32's (an edge pixel the network moves across half of white may flip
    between ink and paper), and the bitonal page all but the same pixels."""
    page = colour_page(300, 240, seed=6).png()
    fp32 = InProcessBackend(str(SHIPPED))
    with running_model_server(SHIPPED, tmp_path / "serving.log",
                              extra=["--mixed_precision=bfloat16"]) as server:
        colour, bitonal = (_predict(server, page, mode) for mode in ("cor", "binaria"))
    diff = np.abs(colour - _pixels(fp32.clean(page, "cor"))).max(axis=-1)
    assert diff.max() > 0, "identical to float32: the bfloat16 rewrite did not run"
    assert (diff > 8).mean() < 0.005 and diff.mean() < 0.5, ((diff > 8).mean(), diff.mean())
    assert (bitonal != _pixels(fp32.clean(page, "binaria"))).mean() < 0.005
