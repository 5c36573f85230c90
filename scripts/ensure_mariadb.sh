#!/usr/bin/env bash
# Makes a MySQL/MariaDB answer on MYSQL_HOST:MYSQL_PORT for `make run` and `make test`:
# starts the local MariaDB when it is installed but down; on a bare Debian/Ubuntu machine, as
# root, installs Debian's mariadb-server first and lets root log in over TCP with an empty
# password (the development default of pagework/config.py), then waits for it.
#   ensure_mariadb.sh             fails when no server can be had (the tests need one)
#   ensure_mariadb.sh --optional  warns and goes on: the service runs, rows wait in its spool
set -euo pipefail
host=${MYSQL_HOST:-127.0.0.1}
port=${MYSQL_PORT:-3306}
user=${MYSQL_USER:-root}  # only for the login set up after installing
optional=0
[ "${1:-}" = --optional ] && optional=1

log() { echo "ensure_mariadb: $*" >&2; }
give_up() {
  if [ "$optional" = 1 ]; then
    log "WARNING: $* -- the service starts anyway; request rows wait in its spool (SPOOL_DIR)" \
      "until a database answers on $host:$port"
    exit 0
  fi
  log "ERROR: $*"
  exit 1
}
ping_db() { timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; }  # something listens
server_binary() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd 2>/dev/null; }

ping_db && exit 0
case $host in 127.0.0.1|localhost) ;; *) give_up "MySQL at $host:$port does not answer" ;; esac

installed_here=0
if [ -z "$(server_binary)" ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
    || give_up "no MySQL/MariaDB server here, and installing one needs root and apt-get"
  log "no MySQL/MariaDB server on this machine: installing Debian's mariadb-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null \
    || give_up "apt-get install mariadb-server failed"
  installed_here=1
fi

if ! mysqladmin --connect-timeout=2 ping >/dev/null 2>&1; then  # the local socket
  log "MariaDB is not running: starting it"
  install -d -o mysql -g mysql /run/mysqld 2>/dev/null || true
  if command -v start-stop-daemon >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec "$(server_binary)" -- --user=mysql
  else
    service mariadb start || service mysql start || true
  fi
fi
for _ in $(seq 1 60); do
  mysqladmin --connect-timeout=2 ping >/dev/null 2>&1 && break
  sleep 1
done

if [ "$installed_here" = 1 ] && [ "$user" = root ] && [ -z "${MYSQL_PASSWORD:-}" ]; then
  # Debian's root logs in through the socket only; the project's default is TCP, no password.
  log "letting root log in over TCP from this machine with an empty password (development)"
  mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR \
    mysql_native_password USING PASSWORD('')" || give_up "could not set up root's login"
fi
for _ in $(seq 1 60); do
  ping_db && exit 0
  sleep 1
done
give_up "MySQL/MariaDB did not answer on $host:$port within 60 s"
