"""create_app: defaults, then the environment, then overrides; everything hangs on the app."""

from __future__ import annotations

import subprocess
import sys

from pagework.config import EXTENSION, ROOT, Config


def test_importing_the_package_does_no_work():
    """`import api` (gunicorn's config does it in the master) loads neither Flask's app nor
    prometheus_client, which must see PROMETHEUS_MULTIPROC_DIR first."""
    probe = ("import sys, api, pagework.config, api.gunicorn_conf; "
             "print(sorted(m for m in ('api.app', 'prometheus_client', 'flask', 'tensorflow') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_config_overrides_and_services(start_server):
    server, database = start_server(max_pixels=1234, api_key="k")
    services = server.app.extensions[EXTENSION]
    assert isinstance(services.config, Config)
    assert (services.config.max_pixels, services.config.api_key) == (1234, "k")
    assert services.store.database == database.name
    assert server.app.config["MAX_CONTENT_LENGTH"] == services.config.max_request_bytes
    assert services.budget.limit == services.config.pixel_budget


def test_two_apps_in_one_process_keep_their_own_state(start_server):
    first, _ = start_server()
    second, _ = start_server()
    first.post({})
    assert 'ddd_requests_total{codigo_retorno="2"} 1.0' in first.app.extensions[
        EXTENSION].metrics.render()[0].decode()
    assert 'codigo_retorno="2"' not in second.app.extensions[EXTENSION].metrics.render()[0].decode()
