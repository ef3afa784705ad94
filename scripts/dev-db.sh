#!/usr/bin/env bash
# Makes sure the local PostgreSQL (127.0.0.1:5432, trust auth, user postgres)
# and MariaDB (127.0.0.1:3306, root, empty password) that the tests use are
# running: starts them when they are installed but down, installs them from
# Debian's packages when they are missing.
#   scripts/dev-db.sh up     check, start or install both (default)
#   scripts/dev-db.sh down   stop both
set -euo pipefail

cmd=${1:-up}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
my_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }

wait_for() { # name check
	for _ in $(seq 1 60); do "$2" && return 0; sleep 1; done
	echo "$1 did not come up" >&2; return 1
}

start_postgres() {
	pg_up && { echo "PostgreSQL is up"; return; }
	if ! command -v pg_ctlcluster >/dev/null 2>&1; then
		echo "installing PostgreSQL"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	fi
	local v
	v=$(ls /etc/postgresql | sort -V | tail -1)
	# Trust auth on loopback, as the tests expect.
	local hba=/etc/postgresql/$v/main/pg_hba.conf
	if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
		as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
	fi
	as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
	wait_for PostgreSQL pg_up
	echo "PostgreSQL started"
}

start_mariadb() {
	my_up && { echo "MariaDB is up"; return; }
	if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
		echo "installing MariaDB"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
	fi
	as_root mkdir -p /run/mysqld
	as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
	as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
	wait_for MariaDB my_up || {
		# A fresh install lets root in by socket only: open it on TCP without a password.
		as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;"
		wait_for MariaDB my_up
	}
	echo "MariaDB started"
}

case "$cmd" in
up)
	start_postgres
	start_mariadb
	;;
down)
	v=$(ls /etc/postgresql | sort -V | tail -1)
	as_root pg_ctlcluster --skip-systemctl-redirect "$v" main stop || true
	as_root start-stop-daemon --stop --oknodo --exec /usr/sbin/mariadbd || true
	;;
*)
	echo "usage: $0 [up|down]" >&2; exit 2
	;;
esac
