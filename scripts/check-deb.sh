#!/usr/bin/env bash
# Builds the Debian package with `cargo deb` and checks it the way an
# administrator would meet it (issue 12):
#   - the .deb holds the binary, the unit and the env file (a conffile, 0640);
#   - `dpkg -i` installs it (twice: a reinstall runs the upgrade path of the
#     maintainer scripts) on a machine where systemd is not running, with the
#     dependencies it declares installed by apt-get when missing;
#   - /usr/bin/tessera --version answers the package's version, and the binary
#     links no libpq, libssl or libcrypto (both are built in);
#   - the tessera system user, /var/lib/tessera, the env file's owner and mode;
#   - the env file names every TESSERA_* setting `tessera --help` knows, and
#     the binary accepts it as shipped: `serve` starts with it (as the tessera
#     user, on a throwaway SQLite database) and answers /readyz;
#   - `systemd-analyze verify` finds nothing to say about the unit.
# Runs as root (dpkg -i). Safe to re-run on a used machine: an installed
# tessera is upgraded in place (a running tessera service restarts, as with
# any upgrade; a stopped one stays stopped), an edited env file is kept
# (--force-confold) and never read: the checks use the one in the .deb, a
# database in a temporary directory and a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }
fail() { echo "check-deb: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: it installs the package with dpkg -i"
export DEBIAN_FRONTEND=noninteractive

need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "missing: ${need[*]} (Debian packages)"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo-deb >/dev/null 2>&1; then
  step "cargo install cargo-deb"
  cargo install cargo-deb --locked
fi

step "cargo deb"
rm -f target/debian/tessera_*.deb
cargo deb --locked
debs=(target/debian/tessera_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail "expected one target/debian/tessera_*.deb, found: ${debs[*]}"
DEB=${debs[0]}
VERSION=$(dpkg-deb -f "$DEB" Version)
echo "built $DEB ($(du -h "$DEB" | cut -f1)), version $VERSION, depends: $(dpkg-deb -f "$DEB" Depends)"

step "what the package holds"
contents=$(dpkg-deb -c "$DEB")
for want in \
  '-rwxr-xr-x (root/root|0/0) .* ./usr/bin/tessera$' \
  '-rw-r----- (root/root|0/0) .* ./etc/tessera/tessera.env$' \
  '-rw-r--r-- (root/root|0/0) .* ./usr/lib/systemd/system/tessera.service$'; do
  grep -Eq -- "$want" <<<"$contents" || fail "the package lacks $want"
done
WORK=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
dpkg-deb -e "$DEB" "$WORK/control"
grep -qx /etc/tessera/tessera.env "$WORK/control/conffiles" || fail "the env file is not a conffile"
for script in postinst postrm; do
  sh -n "$WORK/control/$script" || fail "$script is not valid sh"
done

step "dpkg -i (systemd is $( [ -d /run/systemd/system ] && echo running || echo 'not running' ))"
install_deb() {
  if ! dpkg --force-confdef --force-confold -i "$DEB"; then
    # Dependencies that are missing: apt-get installs them and finishes the
    # configuration that dpkg left pending.
    apt-get update -qq
    apt-get install -f -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold
  fi
  [ "$(dpkg-query -W -f '${db:Status-Status} ${Version}' tessera)" = "installed $VERSION" ] \
    || fail "tessera $VERSION is not installed: $(dpkg-query -W -f '${db:Status-Status} ${Version}' tessera)"
}
install_deb
echo "and once more, the upgrade path of the maintainer scripts:"
install_deb

step "the installed binary"
out=$(/usr/bin/tessera --version)
echo "$out"
[ "$out" = "tessera ${VERSION%-*}" ] || fail "--version says '$out', expected 'tessera ${VERSION%-*}'"
libs=$(ldd /usr/bin/tessera)
echo "$libs"
if grep -Ei 'libpq|libssl|libcrypto' <<<"$libs"; then
  fail "the binary links a system libpq or OpenSSL; both should be built in"
fi

step "user, directories, env file"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd tessera) || fail "no tessera user"
echo "tessera: uid $uid, group $(getent group "$gid" | cut -d: -f1), home $home, shell $shell"
[ "$uid" -lt 1000 ] || fail "tessera is not a system user (uid $uid)"
[ "$(getent group "$gid" | cut -d: -f1)" = tessera ] || fail "tessera's group is not tessera"
[ "$home" = /var/lib/tessera ] || fail "tessera's home is $home"
case "$shell" in */nologin | */false) ;; *) fail "tessera has a login shell: $shell" ;; esac
[ "$(stat -c '%U:%G' /var/lib/tessera)" = tessera:tessera ] || fail "/var/lib/tessera is $(stat -c '%U:%G' /var/lib/tessera)"
env_stat=$(stat -c '%U:%G %a' /etc/tessera/tessera.env)
echo "/etc/tessera/tessera.env: $env_stat"
[ "$env_stat" = "root:tessera 640" ] || fail "/etc/tessera/tessera.env is $env_stat, expected root:tessera 640"
[ -f /usr/lib/systemd/system/tessera.service ] || fail "the unit is not installed"

# The env file as shipped (the installed one may have been edited on a used machine).
dpkg-deb -x "$DEB" "$WORK/root"
SHIPPED_ENV=$WORK/root/etc/tessera/tessera.env
missing=$(/usr/bin/tessera --help | grep -o 'env: TESSERA_[A-Z0-9_]*' | cut -d' ' -f2 | sort -u |
  while read -r var; do grep -Eq "^#? ?$var=" "$SHIPPED_ENV" || echo "$var"; done)
[ -z "$missing" ] || fail "the env file does not document: $missing"
echo "the env file documents all $(/usr/bin/tessera --help | grep -o 'env: TESSERA_[A-Z0-9_]*' | sort -u | wc -l) settings of tessera --help"

step "serve with the shipped env file, as the tessera user"
chown tessera:tessera "$WORK"
cp "$SHIPPED_ENV" "$WORK/tessera.env"
chmod 644 "$WORK/tessera.env"
# Then a database and a port of our own, and an administrator. setpriv execs
# (runuser would stay in between), so that SERVER is tessera itself.
setpriv --reuid tessera --regid tessera --init-groups --reset-env -- sh -c '
  set -a; . "$1/tessera.env"
  TESSERA_DATABASE_URL="sqlite://$1/tessera.db" TESSERA_BIND=127.0.0.1:0
  cd "$1"
  echo "a long passphrase for the package check" |
    tessera create-admin --username root --email root@example.com --password-stdin
  exec tessera serve' sh "$WORK" >"$WORK/serve.log" 2>&1 &
SERVER=$!
origin=
for _ in $(seq 100); do
  origin=$(grep -o '"origin":"http://127\.0\.0\.1:[0-9]*"' "$WORK/serve.log" | head -n 1 | cut -d'"' -f4 || true)
  [ -n "$origin" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$origin" ]; then
  cat "$WORK/serve.log" >&2
  fail "tessera serve did not start with the shipped env file"
fi
curl -fsS "$origin/readyz" >/dev/null || { cat "$WORK/serve.log" >&2; fail "$origin/readyz did not answer 200"; }
grep -q '"level":"INFO"' "$WORK/serve.log" || fail "the log is not JSON (TESSERA_LOG_FORMAT=json)"
kill -TERM "$SERVER"
if ! wait "$SERVER"; then
  cat "$WORK/serve.log" >&2
  fail "tessera serve did not stop cleanly on SIGTERM"
fi
SERVER=
echo "served $origin/readyz, stopped on SIGTERM"
[ "$(stat -c '%U' "$WORK/tessera.db")" = tessera ] || fail "the database is not the tessera user's"

step "systemd-analyze verify"
# --man=no: the unit names no man page. Anything it prints about the unit fails.
verify=$(systemd-analyze verify --man=no /usr/lib/systemd/system/tessera.service 2>&1 || echo "exit status $?")
if grep -i 'tessera\|exit status' <<<"$verify"; then
  fail "systemd-analyze verify complains about tessera.service"
fi
[ -z "$verify" ] || { echo "(about other units, not ours:)"; echo "$verify"; }
echo "systemd-analyze verify: nothing to say about tessera.service"

step "the Debian package is fine"
