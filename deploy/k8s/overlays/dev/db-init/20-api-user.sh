# Creates the API's least-privilege MySQL user on the db container's first start.
# Sourced by the official mysql image's entrypoint (and the stand-in's) after 10-init.sql, as root
# on the temporary server: docker_process_sql is the entrypoint's own helper.
# The API reads, appends rows and runs CREATE DATABASE/TABLE IF NOT EXISTS at start-up: SELECT,
# INSERT, CREATE on its schema (a replayed spool row is a plain INSERT whose duplicate request_id
# the API treats as already stored). Never UPDATE, DELETE, DROP, ALTER, INDEX or anything outside
# its schema.
# Env: MYSQL_API_USER (default api), MYSQL_API_PASSWORD (required), MYSQL_API_DATABASE
# (default: MYSQL_DATABASE, else ImagensAPi).
api_user=${MYSQL_API_USER:-api}
api_db=${MYSQL_API_DATABASE:-${MYSQL_DATABASE:-ImagensAPi}}
if [ -z "${MYSQL_API_PASSWORD:-}" ]; then
  echo "20-api-user.sh: MYSQL_API_PASSWORD is empty: refusing to create user '$api_user'" >&2
  exit 1
fi
api_password_sql=$(printf '%s' "$MYSQL_API_PASSWORD" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")
echo "20-api-user.sh: creating '$api_user'@'%': SELECT, INSERT, CREATE on \`$api_db\`.*"
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS '$api_user'@'%' IDENTIFIED BY '$api_password_sql';
GRANT SELECT, INSERT, CREATE ON \`$api_db\`.* TO '$api_user'@'%';
SQL
unset api_user api_db api_password_sql
