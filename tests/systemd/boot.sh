#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The unit under a real systemd: boots one in a container and checks what
# the unit promises.
#
#   tests/systemd/boot.sh BUILD        as root; BUILD: a configured build
#
# The installed files (cmake --install BUILD --prefix /opt/cachebroker
# into a staging directory) are bound into a systemd-nspawn container
# that boots this host's own /usr with an empty /etc and /var
# (--volatile=yes) and shares its network. Inside it: the unit, the
# sysusers.d and tmpfiles.d files as installed, a Redis started by
# systemd-run on a free port, then these checks, each printed as
# "PASS name" or "FAIL name: why":
#
#   start      systemctl start returns with the unit active and STATUS=
#              saying both Redis connections are ready
#   sandbox    the broker runs as user cachebroker, with no capabilities,
#              no_new_privs and a seccomp filter
#   serve      set, get and health through /run/cachebroker/cachebroker.sock
#   reload     systemctl reload of a good file, then of a bad one: STATUS=
#              says taken, then rejected, and the unit stays active
#   watchdog   a stopped (SIGSTOP) broker is killed and restarted by the
#              watchdog (a drop-in sets WatchdogSec=4s to keep this short)
#   stop       systemctl stop drains and exits 0
#   badconfig  a bad file fails the start with 78, and it is not retried
#
# Exits 0 when every check passed, 1 when one failed, and 2 when no
# container could be booted here (the reason is printed; nothing was
# checked). Needs systemd-nspawn (Debian: systemd-container), root, and
# either a cgroup v2 host or the right to mount a cgroup v1 hierarchy.
set -euo pipefail

BUILD=${1:?usage: boot.sh BUILD}
BUILD=$(cd "$BUILD" && pwd)
MACHINE=cbtest-$$
PREFIX=/opt/cachebroker
SOCK=ipc:///run/cachebroker/cachebroker.sock

say() { printf 'systemd boot: %s\n' "$*"; }
cannot() {
	say "cannot boot a container here: $*"
	exit 2
}

[ "$(id -u)" = 0 ] || cannot "not root"
command -v systemd-nspawn >/dev/null ||
	cannot "systemd-nspawn not found (apt-get install systemd-container)"
command -v redis-server >/dev/null || cannot "redis-server not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cb-boot-XXXXXX")
nspawn_pid=
leader=

cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# nspawn turns SIGTERM into an orderly shutdown of the guest.
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

DESTDIR=$tmp/stage cmake --install "$BUILD" --prefix "$PREFIX" \
	>"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log" >&2
	say "cmake --install failed"
	exit 1
}

# systemd in the guest needs its own cgroup hierarchy. On a cgroup v1
# host that is not run by systemd, there is none: mount one. It stays
# mounted (the guests leave their cgroups in it, so it cannot be unmounted
# at once), and the next run uses it.
if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] &&
	! mountpoint -q /sys/fs/cgroup/systemd; then
	if ! mkdir -p /sys/fs/cgroup/systemd ||
		! mount -t cgroup -o none,name=systemd cgroup \
			/sys/fs/cgroup/systemd; then
		cannot "no name=systemd cgroup hierarchy, and cannot mount one"
	fi
fi

# free_port: a TCP port nothing listens on (the guest shares our network).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
redis_port=$(free_port)
http_port=$(free_port)

systemd-nspawn -D / --volatile=yes -b --console=passive \
	--machine="$MACHINE" --register=no --keep-unit \
	--bind="$tmp/stage$PREFIX:$PREFIX" \
	systemd.firstboot=off >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!

# The guest's init is the child of nspawn that runs systemd.
for _ in $(seq 100); do
	for p in $(pgrep -P "$nspawn_pid" 2>/dev/null); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ]; then
			leader=$p
		fi
	done
	[ -n "$leader" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$leader" ]; then
	cat "$tmp/nspawn.log" >&2
	cannot "systemd-nspawn did not start systemd"
fi

# guest: runs a command in the guest (its PIDs are not ours).
guest() { nsenter -t "$leader" -a "$@"; }

state=
for _ in $(seq 300); do
	state=$(guest systemctl is-system-running 2>/dev/null || true)
	case $state in
	running | degraded) break ;;
	esac
	sleep 0.1
done
case $state in
running | degraded) ;;
*)
	cat "$tmp/nspawn.log" >&2
	cannot "the guest's systemd did not finish booting ($state)"
	;;
esac
say "guest booted ($(guest systemctl --version | head -n 1))"

# The installed files go where systemd looks for an administrator's.
guest sh -ec "
	mkdir -p /etc/systemd/system/cachebrokerd.service.d \
		/etc/sysusers.d /etc/tmpfiles.d
	cp $PREFIX/lib/systemd/system/cachebrokerd.service /etc/systemd/system/
	cp $PREFIX/lib/sysusers.d/cachebroker.conf /etc/sysusers.d/
	cp $PREFIX/lib/tmpfiles.d/cachebroker.conf /etc/tmpfiles.d/
	printf '[Service]\nWatchdogSec=4s\n' \
		>/etc/systemd/system/cachebrokerd.service.d/watchdog.conf
	out=\$(systemd-sysusers 2>&1) || { echo \"\$out\" >&2; exit 1; }
	systemd-tmpfiles --create /etc/tmpfiles.d/cachebroker.conf
	systemd-run --quiet --unit=cb-redis /usr/bin/redis-server \
		--port $redis_port --bind 127.0.0.1 --save '' --appendonly no
	systemctl daemon-reload
"
conf=$tmp/stage$PREFIX/etc/cachebroker/cachebroker.conf
cp "$conf" "$tmp/good.conf"
sed -i -e "s|^port = 6379|port = $redis_port|" \
	-e "s|^http = .*|http = http://127.0.0.1:$http_port|" "$tmp/good.conf"
cp "$tmp/good.conf" "$conf"
for _ in $(seq 50); do
	redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
	sleep 0.1
done

failed=0
pass() { say "PASS $1"; }
fail() {
	say "FAIL $1: $2"
	failed=1
}
prop() { guest systemctl show -p "$1" --value cachebrokerd; }
cli() { guest "$PREFIX/bin/cachebroker" -u "$SOCK" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
status_has() { prop StatusText | grep -qF "$1"; }

# start
if guest systemctl start cachebrokerd &&
	[ "$(prop ActiveState)" = active ] &&
	wait_for 10 status_has "redis 2/2 ready"; then
	pass start
else
	fail start "$(prop ActiveState), STATUS=$(prop StatusText)"
fi

# sandbox
pid=$(prop MainPID)
st=$(guest cat "/proc/$pid/status" 2>/dev/null || true)
user=$(guest ps -o user= -p "$pid" 2>/dev/null | tr -d ' ' || true)
if [ "$user" = cachebroker ] &&
	grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$st" &&
	grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$st" &&
	grep -q '^Seccomp:[[:space:]]*2$' <<<"$st"; then
	pass sandbox
else
	fail sandbox "user '$user'; $(grep -E '^(CapEff|NoNewPrivs|Seccomp):' \
		<<<"$st" | tr '\n\t' '  ')"
fi

# serve
if cli set boot key hello --ttl 60s >/dev/null &&
	[ "$(cli get boot key)" = hello ] &&
	cli health | grep -q 'SERVING'; then
	pass serve
else
	fail serve "set, get or health failed"
fi

# reload
reload_ok=1
guest systemctl reload cachebrokerd || reload_ok=0
wait_for 5 status_has "reloaded (policy generation 2)" || reload_ok=0
echo "no_such_key = 1" >>"$conf"
guest systemctl reload cachebrokerd || reload_ok=0
wait_for 5 status_has "reload rejected (1 error)" || reload_ok=0
[ "$(prop ActiveState)" = active ] || reload_ok=0
cp "$tmp/good.conf" "$conf"
if ((reload_ok)); then
	pass reload
else
	fail reload "STATUS=$(prop StatusText), $(prop ActiveState)"
fi

# watchdog
old=$(prop MainPID)
guest kill -STOP "$old"
restarted() {
	local now
	now=$(prop MainPID)
	[ "$(prop NRestarts)" = 1 ] && [ "$now" != 0 ] && [ "$now" != "$old" ] &&
		[ "$(prop ActiveState)" = active ]
}
if wait_for 20 restarted &&
	guest journalctl -u cachebrokerd -o cat | grep -q "Failed with result 'watchdog'"; then
	pass watchdog
else
	guest kill -CONT "$old" 2>/dev/null || true
	fail watchdog "NRestarts=$(prop NRestarts), MainPID=$(prop MainPID)"
fi

# stop
wait_for 10 status_has "redis 2/2 ready" || true
if guest systemctl stop cachebrokerd &&
	[ "$(prop ExecMainStatus)" = 0 ] && [ "$(prop Result)" = success ] &&
	guest journalctl -u cachebrokerd -o cat | grep -q 'drained, exiting'; then
	pass stop
else
	fail stop "status $(prop ExecMainStatus), result $(prop Result)"
fi

# badconfig
echo "no_such_key = 1" >>"$conf"
guest systemctl start cachebrokerd 2>/dev/null || true
sleep 2
if [ "$(prop ExecMainStatus)" = 78 ] && [ "$(prop NRestarts)" = 0 ] &&
	[ "$(prop ActiveState)" = failed ]; then
	pass badconfig
else
	fail badconfig "status $(prop ExecMainStatus), restarts $(prop \
		NRestarts), $(prop ActiveState)"
fi
cp "$tmp/good.conf" "$conf"

if ((failed)); then
	guest journalctl -u cachebrokerd -o short-monotonic --no-pager >&2 || true
	exit 1
fi
exit 0
