#!/usr/bin/env bash
# Starts the local MariaDB/MySQL if nothing answers on MYSQL_HOST:MYSQL_PORT, then waits for it.
set -euo pipefail
host=${MYSQL_HOST:-127.0.0.1}
port=${MYSQL_PORT:-3306}
user=${MYSQL_USER:-root}

ping_db() {
  mysqladmin --protocol=tcp -h "$host" -P "$port" -u "$user" ${MYSQL_PASSWORD:+-p"$MYSQL_PASSWORD"} \
    --connect-timeout=2 ping >/dev/null 2>&1
}

ping_db && exit 0
if [ "$host" = 127.0.0.1 ] || [ "$host" = localhost ]; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not answering on $host:$port: starting it" >&2
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  elif command -v service >/dev/null; then
    service mysql start || service mariadb start
  fi
fi
for _ in $(seq 1 60); do
  ping_db && exit 0
  sleep 1
done
echo "MySQL/MariaDB did not answer on $host:$port within 60 s" >&2
exit 1
