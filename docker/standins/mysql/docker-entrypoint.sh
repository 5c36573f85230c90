#!/usr/bin/env bash
# Entrypoint of the MariaDB stand-in, written to the official mysql image's documented conventions
# (not its code): a first argument starting with '-' means server options; on first start (no
# /var/lib/mysql/mysql) it initialises the data directory, sets the root password, creates
# MYSQL_DATABASE and MYSQL_USER, then runs /docker-entrypoint-initdb.d/* in name order (*.sh sourced,
# or run when executable; *.sql, *.sql.gz piped to the client) against a temporary server that
# listens on the socket only; then it runs the real server in the foreground.
# Sourced scripts can call docker_process_sql, as with the official image.
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

mysql_note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
mysql_warn() { printf '%s [Warn] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
mysql_error() {
  printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
  exit 1
}

# VAR or VAR_FILE (Docker secrets), as the official image reads them.
file_env() {
  local var=$1 file_var="${1}_FILE" default=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    mysql_error "both $var and $file_var are set (but are exclusive)"
  fi
  local value=$default
  if [ -n "${!var:-}" ]; then value=${!var}; elif [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}"); fi
  export "$var"="$value"
  unset "$file_var"
}

# Pipes SQL from stdin to the temporary server as root; --dont-use-mysql-root-password before the
# root password is set. Selects MYSQL_DATABASE when set (later --database= arguments win).
docker_process_sql() {
  local use_password=1
  if [ "${1:-}" = --dont-use-mysql-root-password ]; then use_password=0; shift; fi
  [ -n "${MYSQL_DATABASE:-}" ] && set -- --database="$MYSQL_DATABASE" "$@"
  if [ "$use_password" = 1 ] && [ -n "${MYSQL_ROOT_PASSWORD:-}" ]; then
    MYSQL_PWD=$MYSQL_ROOT_PASSWORD mariadb --protocol=socket --socket="$SOCKET" -uroot --comments "$@"
  else
    mariadb --protocol=socket --socket="$SOCKET" -uroot --comments "$@"
  fi
}

sql_escape() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }

want_help() {
  local arg
  for arg; do
    case $arg in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
  done
  return 1
}

temp_server_start() {
  "$@" --skip-networking --socket="$SOCKET" &
  local i
  for i in $(seq 1 60); do
    mariadb-admin --socket="$SOCKET" -uroot ${MYSQL_ROOT_PASSWORD:+--password="$MYSQL_ROOT_PASSWORD"} \
      ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  mysql_error "temporary server did not start"
}

temp_server_stop() {
  MYSQL_PWD=${MYSQL_ROOT_PASSWORD:-} mariadb-admin --socket="$SOCKET" -uroot shutdown \
    || mysql_error "unable to shut down the temporary server"
  wait
}

setup_db() {
  local root_host=${MYSQL_ROOT_HOST:-%} root_pw
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD=$(head -c 18 /dev/urandom | base64)
    export MYSQL_ROOT_PASSWORD
    mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi
  root_pw=$(sql_escape "${MYSQL_ROOT_PASSWORD:-}")
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    # mariadb-install-db also makes root@127.0.0.1, ::1 and the build host without a password.
    echo "DELETE FROM mysql.global_priv WHERE User='root' AND Host <> 'localhost';"
    echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    if [ "$root_host" != localhost ]; then
      echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
      echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
    fi
    echo "DROP DATABASE IF EXISTS test;"
    echo "FLUSH PRIVILEGES;"
  } | docker_process_sql --dont-use-mysql-root-password --database=mysql
  if [ -n "${MYSQL_DATABASE:-}" ]; then
    mysql_note "Creating database $MYSQL_DATABASE"
    docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
  fi
  if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
    mysql_note "Creating user $MYSQL_USER"
    docker_process_sql --database=mysql \
      <<<"CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      mysql_note "Giving user $MYSQL_USER access to schema $MYSQL_DATABASE"
      docker_process_sql --database=mysql \
        <<<"GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%';"
    fi
  fi
}

process_init_files() {
  local f
  for f; do
    case $f in
      *.sh)
        if [ -x "$f" ]; then mysql_note "$0: running $f"; "$f"
        else mysql_note "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) mysql_note "$0: running $f"; docker_process_sql <"$f" ;;
      *.sql.gz) mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
      *.sql.xz) mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql ;;
      *) mysql_warn "$0: ignoring $f" ;;
    esac
  done
}

main() {
  if [ "${1:0:1}" = - ]; then set -- mysqld "$@"; fi
  # The official image's server is mysqld; Debian's MariaDB names it mariadbd (mysqld is a link).
  if [ "$1" = mysqld ] || [ "$1" = mariadbd ]; then shift; set -- mariadbd "$@"; else exec "$@"; fi
  want_help "$@" && exec "$@"

  file_env MYSQL_ROOT_PASSWORD
  file_env MYSQL_DATABASE
  file_env MYSQL_USER
  file_env MYSQL_PASSWORD
  file_env MYSQL_ROOT_HOST %

  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
    chown -R mysql:mysql "$DATADIR" "$(dirname "$SOCKET")"
    mysql_note "Switching to dedicated user 'mysql'"
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
  fi

  if [ ! -d "$DATADIR/mysql" ]; then
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] \
      && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      mysql_error "Database is uninitialized and password option is not specified: set one of" \
        "MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD"
    fi
    [ "${MYSQL_USER:-}" = root ] && mysql_error "MYSQL_USER=root: use MYSQL_ROOT_PASSWORD for root"
    ls /docker-entrypoint-initdb.d/ >/dev/null
    mysql_note "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
      --skip-test-db --skip-name-resolve >/dev/null
    mysql_note "Starting temporary server"
    MYSQL_ROOT_PASSWORD='' temp_server_start "$@"
    setup_db
    process_init_files /docker-entrypoint-initdb.d/*
    mysql_note "Stopping temporary server"
    temp_server_stop
    mysql_note "init process done. Ready for start up."
  fi
  exec "$@"
}

main "$@"
