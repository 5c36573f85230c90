#!/usr/bin/env sh
# Copies the files kustomize must hold inside deploy/k8s (it reads nothing outside a
# kustomization's folder) from their one source; tests/test_k8s.py fails while they differ.
set -eu
cd "$(dirname "$0")/../.."
cp serving/models.config serving/batching.config deploy/k8s/base/serving/
cp db/init.sql deploy/k8s/overlays/dev/db-init/10-init.sql
cp docker/mysql-initdb/*.sh deploy/k8s/overlays/dev/db-init/
