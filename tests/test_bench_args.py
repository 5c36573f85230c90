"""`python -m bench --api-model`: a candidate folder becomes its own API target."""

from pathlib import Path

import pytest

from bench.__main__ import _model_apis


def test_api_model_names_a_target_serving_that_folder(tmp_path: Path) -> None:
    assert _model_apis([f"v4={tmp_path}"]) == {"api-v4": {"MODEL_DIR": str(tmp_path.resolve())}}


@pytest.mark.parametrize("item", ["v4", "=somewhere", "v4=/no/such/folder"])
def test_api_model_refuses_what_is_not_name_and_folder(item: str) -> None:
    with pytest.raises(SystemExit, match="--api-model"):
        _model_apis([item])
