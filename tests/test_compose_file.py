"""docker-compose.yml as `docker compose up` reads it: what it builds, pulls and pins, and who
may log into its database. `make compose-test` runs the same file for real."""

from __future__ import annotations

import re

from tests.test_k8s import ROOT, compose, compose_default

PATCH_AND_DIGEST = re.compile(r"[a-z/]+:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}")


def test_services_that_build_never_pull_their_image():
    """`ddd-serving/*` exists on no registry: compose must build it, for `up` and `run` alike."""
    built = {name: service for name, service in compose()["services"].items()
             if compose_default(service["image"]).startswith("ddd-serving/")}
    assert {"api", "migrate", "retention"} <= set(built)
    for name, service in built.items():
        assert "build" in service and service.get("pull_policy") == "build", name


def test_mysql_root_is_not_made_for_every_host():
    assert compose()["services"]["db"]["environment"]["MYSQL_ROOT_HOST"] == "localhost"


def test_official_images_are_pinned_to_a_patch_release():
    """mysql and nginx by digest too (docker-library/repo-info publishes it; docs/deploy.md cites
    where); tensorflow/serving's digest is published nowhere citable, so its patch tag."""
    services = compose()["services"]
    docs = (ROOT / "docs" / "deploy.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for service, variable in (("db", "MYSQL_IMAGE"), ("front", "NGINX_IMAGE")):
        image = compose_default(services[service]["image"])
        assert PATCH_AND_DIGEST.fullmatch(image), image
        assert image.split("@")[1] in docs, f"{image}: digest not cited in docs/deploy.md"
        assert f"#{variable}={image}\n" in example
    serving = compose_default(services["serving"]["image"])
    assert re.fullmatch(r"tensorflow/serving:\d+\.\d+\.\d+", serving), serving
