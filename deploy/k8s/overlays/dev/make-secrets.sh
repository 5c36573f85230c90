#!/usr/bin/env sh
# Creates the dev overlay's Secrets with random passwords, in the cluster only (nothing is
# written to the repository). Run once before `kubectl apply -k deploy/k8s/overlays/dev`; it
# leaves existing Secrets alone, because the database keeps the passwords of its first start.
# Usage: deploy/k8s/overlays/dev/make-secrets.sh [namespace]   (default ddd-dev)
set -eu
namespace=${1:-ddd-dev}
kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"

random() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }

make_secret() {  # make_secret NAME USERNAME
  if kubectl -n "$namespace" get secret "$1" >/dev/null 2>&1; then
    echo "secret/$1 exists: kept"
  else
    kubectl -n "$namespace" create secret generic "$1" \
      --from-literal=username="$2" --from-literal=password="$(random)"
  fi
}

make_secret ddd-db-root root
make_secret ddd-db-api api
make_secret ddd-db-migrator migrator
make_secret ddd-db-retention retention
# Optional: clients must then send X-API-Key (the API reads it from ddd-api-key/api-key):
#   kubectl -n "$namespace" create secret generic ddd-api-key --from-literal=api-key=...
