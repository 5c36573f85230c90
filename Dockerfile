# The API image: Flask app under gunicorn on port 3030, talking to TF Serving over REST or gRPC.
# No TensorFlow here: only the base dependencies of pyproject.toml, no extras, installed from
# requirements.lock (every package pinned and hashed: `make lock`); TF Serving's gRPC messages
# come from pagework/protos/ through a descriptor set made in the `protos` stage.
# BASE_IMAGE: any Debian-like image with python3 >= 3.11 and its venv module (the official slim
# image by default; `make compose-test` swaps in a stand-in built from Debian's packages).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# protoc (grpcio-tools, locked with hashes from pyproject's dev extra) runs here only: the image
# keeps its output.
FROM ${BASE_IMAGE} AS protos
COPY docker/protoc.lock /tmp/build/
RUN python3 -m venv /tmp/venv \
 && /tmp/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
    -r /tmp/build/protoc.lock
COPY pagework/protos /tmp/build/pagework/protos
COPY pagework/backends/tf_serving_protos.py /tmp/build/pagework/backends/
RUN /tmp/venv/bin/python /tmp/build/pagework/backends/tf_serving_protos.py /tmp/build/tf_serving.binpb

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title=ddd-serving-api

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PORT=3030 \
    SPOOL_DIR=/var/lib/ddd-api/spool

# python3 -m venv: the official image has it in /usr/local, Debian's python3-venv in /usr.
WORKDIR /app
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv "$VIRTUAL_ENV" \
 && pip install --no-compile --require-hashes -r /tmp/requirements.lock \
 && rm /tmp/requirements.lock

RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin app \
 && mkdir -p "$SPOOL_DIR" \
 && chown app:app "$SPOOL_DIR"

# The project layout the service expects: the service (api/) over the page work (pagework/) and
# the model rules (tfmodel/), next to db/init.sql (applied at start-up). No document tools.
COPY api ./api
COPY pagework ./pagework
COPY tfmodel ./tfmodel
COPY --from=protos /tmp/build/tf_serving.binpb ./pagework/protos/tf_serving.binpb
COPY db/init.sql ./db/init.sql

USER app
EXPOSE 3030
VOLUME ["/var/lib/ddd-api/spool"]
CMD ["gunicorn", "-c", "api/gunicorn_conf.py", "api:create_app()"]
