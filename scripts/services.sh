#!/usr/bin/env bash
# Makes sure the local MariaDB (127.0.0.1:3306, root, empty password) and Redis (127.0.0.1:6379) that the
# integration tests use are answering; starts them if not; creates the test database.
set -euo pipefail

mariadb_up() { mysqladmin --host=127.0.0.1 --port=3306 --user=root --connect-timeout=2 ping >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() {  # name, check function
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "error: $1 did not come up on this machine; start it by hand and re-run." >&2
  exit 1
}

if ! mariadb_up; then
  echo "starting MariaDB ..."
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb_up
fi
if ! redis_up; then
  echo "starting Redis ..."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_up
fi
mysql --host=127.0.0.1 --port=3306 --user=root \
  -e "CREATE DATABASE IF NOT EXISTS enclave_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
