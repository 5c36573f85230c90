# Creates the API's and the schema step's MySQL users on the db container's first start.
# Sourced by the official mysql image's entrypoint (and the stand-in's) after 10-init.sql (the
# table exists), as root on the temporary server: docker_process_sql is the entrypoint's helper.
# - the API (MYSQL_API_USER, default api): INSERT on the request-log table, nothing else. A
#   replayed spool row is a plain INSERT whose duplicate request_id the API treats as stored.
# - the schema step (MYSQL_SCHEMA_USER, default migrator; `python -m api.log.schema`, compose's
#   `migrate` service): CREATE, ALTER, INDEX and SELECT on the schema; never DROP or DELETE.
# Env: MYSQL_API_PASSWORD and MYSQL_SCHEMA_PASSWORD (required), MYSQL_DATABASE (ImagensAPi).
api_user=${MYSQL_API_USER:-api}
schema_user=${MYSQL_SCHEMA_USER:-migrator}
api_db=${MYSQL_API_DATABASE:-${MYSQL_DATABASE:-ImagensAPi}}
for required in MYSQL_API_PASSWORD MYSQL_SCHEMA_PASSWORD; do
  if [ -z "$(printenv "$required")" ]; then
    echo "20-api-user.sh: $required is empty: refusing to create the users" >&2
    exit 1
  fi
done
sql_quote() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
echo "20-api-user.sh: '$api_user'@'%': INSERT on \`$api_db\`.Imagens;" \
  "'$schema_user'@'%': CREATE, ALTER, INDEX, SELECT on \`$api_db\`.*"
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS '$api_user'@'%' IDENTIFIED BY '$(sql_quote "$MYSQL_API_PASSWORD")';
GRANT INSERT ON \`$api_db\`.\`Imagens\` TO '$api_user'@'%';
CREATE USER IF NOT EXISTS '$schema_user'@'%' IDENTIFIED BY '$(sql_quote "$MYSQL_SCHEMA_PASSWORD")';
GRANT CREATE, ALTER, INDEX, SELECT ON \`$api_db\`.* TO '$schema_user'@'%';
SQL
unset api_user schema_user api_db
