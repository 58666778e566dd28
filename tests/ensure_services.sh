#!/usr/bin/env bash
# Make sure the services the test suite talks to are up on 127.0.0.1:
# PostgreSQL 5432, MariaDB 3306, Redis 6379, plus Debian's Chromium for browser tests.
# Starts them when installed, installs the Debian packages when missing (needs root).
set -uo pipefail

log() { printf '[services] %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
fail() { log "ERROR: $*"; exit 1; }

ensure_postgres() {
  port_open 5432 && { log "PostgreSQL is up"; return; }
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL"; apt_install postgresql || fail "could not install postgresql"
    local fresh=1
  fi
  local version; version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$version" ] || fail "PostgreSQL is installed but has no cluster under /etc/postgresql"
  if [ "${fresh:-0}" = 1 ]; then
    # A cluster we just installed: the suite connects as postgres over TCP without a password.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 || fail "PostgreSQL did not come up on 127.0.0.1:5432"
}

ensure_mariadb() {
  port_open 3306 && { log "MariaDB is up"; return; }
  if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    log "installing MariaDB"; apt_install mariadb-server || fail "could not install mariadb-server"
    local fresh=1
  fi
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_port 3306 || fail "MariaDB did not come up on 127.0.0.1:3306"
  if [ "${fresh:-0}" = 1 ]; then
    # A server we just installed: let root connect over TCP with an empty password, as the suite does.
    as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
  fi
}

ensure_redis() {
  port_open 6379 && { log "Redis is up"; return; }
  command -v redis-server >/dev/null || { log "installing Redis"; apt_install redis-server || fail "could not install redis-server"; }
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379 || fail "Redis did not come up on 127.0.0.1:6379"
}

ensure_chromium() {
  command -v chromium >/dev/null && { log "Chromium is installed"; return; }
  log "installing Chromium"; apt_install chromium || fail "could not install chromium"
}

ensure_postgres
ensure_mariadb
ensure_redis
ensure_chromium
