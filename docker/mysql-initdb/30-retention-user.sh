# Creates the retention purge's MySQL user on the db container's first start, when
# MYSQL_RETENTION_PASSWORD is set (retention is optional: without it, no user is made).
# Sourced by the mysql image's entrypoint after 10-init.sql (the table exists) and 20-api-user.sh.
# `python -m api.log.retention purge` finds old rows and deletes them by primary key: SELECT and
# DELETE on the request-log table only; no INSERT, UPDATE, DDL or other tables.
# Env: MYSQL_RETENTION_USER (default retention), MYSQL_RETENTION_PASSWORD, MYSQL_DATABASE.
retention_user=${MYSQL_RETENTION_USER:-retention}
retention_db=${MYSQL_DATABASE:-ImagensAPi}
if [ -z "${MYSQL_RETENTION_PASSWORD:-}" ]; then
  echo "30-retention-user.sh: MYSQL_RETENTION_PASSWORD is empty: no retention user"
else
  retention_password_sql=$(printf '%s' "$MYSQL_RETENTION_PASSWORD" \
    | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")
  echo "30-retention-user.sh: creating '$retention_user'@'%': SELECT, DELETE on \`$retention_db\`.Imagens"
  docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS '$retention_user'@'%' IDENTIFIED BY '$retention_password_sql';
GRANT SELECT, DELETE ON \`$retention_db\`.\`Imagens\` TO '$retention_user'@'%';
SQL
fi
unset retention_user retention_db retention_password_sql
