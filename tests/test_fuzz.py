"""The fuzzing harnesses (`make fuzz`) run, and their seeds pass every check they assert: a
short run of each, so the harnesses cannot rot between long runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import FUZZ_EXAMPLES, ROOT


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    subprocess.run([sys.executable, "-m", "fuzz.corpus", str(folder)], cwd=ROOT, check=True,
                   timeout=120)
    return folder


@pytest.mark.parametrize(("target", "runs"), [("decode", 20 * FUZZ_EXAMPLES),
                                              ("route", 2 * FUZZ_EXAMPLES),
                                              ("framing", 2 * FUZZ_EXAMPLES),
                                              ("shapes", 3 * FUZZ_EXAMPLES // 10 + 1)])
def test_harness_runs_clean(corpus, tmp_path, target, runs):
    result = subprocess.run(
        # libFuzzer reads its peak RSS from getrusage, which Linux carries over from the process
        # that started it (a pytest worker holding models): the limit is raised past that here;
        # `make fuzz`, started from a shell, keeps libFuzzer's 2 GB.
        [sys.executable, "-m", f"fuzz.{target}", f"-runs={runs}", "-seed=1", "-rss_limit_mb=8192",
         f"-artifact_prefix={tmp_path}/", str(corpus / target)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", result.stderr)  # seeds + mutations
    assert done and int(done[1]) >= runs
    assert not list(tmp_path.glob("crash-*"))
