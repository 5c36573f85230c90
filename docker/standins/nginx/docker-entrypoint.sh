#!/bin/sh
# The two steps of the official nginx entrypoint that the compose front relies on.
set -eu
for script in /docker-entrypoint.d/*.envsh; do
  [ -x "$script" ] && . "$script"
done
defined=$(printf '${%s} ' $(env | cut -d= -f1))
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  target=/etc/nginx/conf.d/$(basename "$template" .template)
  envsubst "$defined" <"$template" >"$target"
  echo "docker-entrypoint.sh: rendered $template into $target"
done
exec "$@"
