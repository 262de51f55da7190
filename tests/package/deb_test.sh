#!/usr/bin/env bash
# The Debian package (packaging/deb.cmake), packed from a build tree that is already built (no
# rebuild): its control fields, its contents, and the packaged heartlock run from an extracted
# copy. As root it is also installed and purged for real with dpkg, into a scratch root
# (dpkg --root: its own admin directory; the maintainer scripts honour $DPKG_ROOT), and the
# cronlock/golock alternatives are checked there.
# Usage: deb_test.sh BUILD_DIR [CPACK]. Exit 77 (skipped) without dpkg-deb, dpkg-shlibdeps or file.
set -euo pipefail
build=$(cd "$1" && pwd)
cpack=${2:-cpack}
for tool in dpkg-deb dpkg-shlibdeps file "$cpack"; do
  command -v "$tool" >/dev/null || { echo "$tool not found: skipped"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# gzip: faster to make than the package's xz, and the contents are the same.
"$cpack" --config "$build/CPackConfig.cmake" -B "$work/out" -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip \
  -D CPACK_CMAKE_GENERATOR=Ninja \
  >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
debs=("$work"/out/heartlock_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one heartlock_*.deb: ${debs[*]}"
deb=${debs[0]}
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# Control fields. Depends comes from dpkg-shlibdeps: glibc always, libstdc++ for heartlock-tz.so,
# libssl3 exactly when the executable links libcrypto dynamically (HEARTLOCK_STATIC_DEPS=OFF).
dpkg-deb -I "$deb"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = heartlock ] || fail "Package: $(field Package)"
depends=$(field Depends)
names=$(tr ',|' '\n' <<<"$depends" | awk '{print $1}')
for dep in libc6 libstdc++6; do
  grep -qxF "$dep" <<<"$names" || fail "Depends lacks $dep: $depends"
done
if readelf -d "$build/bin/heartlock" | grep -q 'NEEDED.*libcrypto'; then
  grep -q "libssl3" <<<"$depends" || fail "dynamic libcrypto, but Depends lacks libssl3"
else
  ! grep -q "libssl" <<<"$depends" || fail "static libcrypto, but Depends has libssl: $depends"
fi
[ "$(field Recommends)" = "libpq5, libcurl4, libmicrohttpd12, libssl3" ] ||
  fail "Recommends: $(field Recommends)"
control=$(dpkg-deb -I "$deb")
for script in postinst prerm postrm; do
  grep -Eq "^ .* [0-9]+ lines .*\b$script\b .*#!/bin/sh" <<<"$control" || fail "no $script"
done

# Contents: what the package installs, and nothing of the library (headers, .a, CMake package).
dpkg-deb -c "$deb" | awk '{print $6 ($7 == "->" ? " -> " $8 : "")}' >"$work/contents"
for path in ./usr/bin/heartlock ./usr/share/man/man1/heartlock.1.gz \
  ./usr/share/bash-completion/completions/heartlock ./usr/share/zsh/vendor-completions/_heartlock \
  ./usr/share/doc/heartlock/copyright ./usr/share/doc/heartlock/changelog.gz \
  ./usr/share/doc/heartlock/LICENSE ./usr/share/doc/heartlock/examples/crontab \
  ./usr/share/doc/heartlock/examples/nightly-report.service \
  ./usr/share/doc/heartlock/examples/nightly-report.timer \
  ./usr/lib/systemd/system/heartlock-cron.service ./usr/lib/sysusers.d/heartlock.conf; do
  grep -qxF "$path" "$work/contents" || fail "missing $path"
done
grep -Eqx '\./usr/lib/([a-z0-9_]+-linux-gnu[a-z]*/)?heartlock/heartlock-tz\.so' "$work/contents" ||
  fail "missing heartlock-tz.so"
if grep -Ev '^\./(usr/?.*)?$' "$work/contents" ||
  grep -E '/include/|\.a$|/cmake/|/pkgconfig/|/bin/(cronlock|golock)' "$work/contents"; then
  fail "unexpected paths (above)"
fi

# The packaged heartlock, from an extracted copy: its own heartlock-tz.so, found from the
# executable, not through the environment.
dpkg-deb -x "$deb" "$work/root"
unset HEARTLOCK_TZ_MODULE HEARTLOCK_BACKEND
bin=$work/root/usr/bin/heartlock
version=$("$bin" --version)
[ "$version" = "$(field Version | sed 's/-[^-]*$//')" ] || fail "--version: $version"
token=$("$bin" -b "file:$work/locks" run -k pkg -- sh -c 'echo "$HEARTLOCK_TOKEN"')
[ "$token" = 1 ] || fail "run: token $token"
"$bin" -b "file:$work/locks" run -k pkg -- true || fail "run -- true"
"$bin" schedule --utc -n 1 --from 2024-01-01T00:00:00Z '30 2 * * *' | grep -q '2024-01-01' ||
  fail "schedule (heartlock-tz.so)"
grep -qx 'ExecStart=/usr/bin/heartlock cron .*' \
  "$work/root/usr/lib/systemd/system/heartlock-cron.service" || fail "unit's ExecStart"
echo "extracted: heartlock $version ran a lock (token $token) and a schedule"

# A real install, as root only, into a scratch root: dpkg's status, the maintainer scripts, the
# alternatives; then a purge that must leave no alternative behind.
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg >/dev/null; then
  echo "not root: dpkg --root install skipped"
  exit 0
fi
sys=$work/sys
mkdir -p "$sys/var/lib/dpkg/updates" "$sys/var/lib/dpkg/info" "$sys/var/log"
touch "$sys/var/lib/dpkg/status" "$sys/var/lib/dpkg/available"
dpkg_root=(dpkg --root="$sys" --log="$sys/var/log/dpkg.log" --force-script-chrootless
  --force-depends)
# Twice: the second is an upgrade (prerm upgrade, postinst configure OLD-VERSION).
for round in install upgrade; do
  "${dpkg_root[@]}" -i "$deb" >"$work/dpkg.log" 2>&1 ||
    { cat "$work/dpkg.log"; fail "dpkg -i ($round)"; }
done
dpkg-query --admindir="$sys/var/lib/dpkg" -W -f='${Status}\n' heartlock |
  grep -qx 'install ok installed' || fail "dpkg-query after install"
for name in cronlock golock; do
  [ "$(readlink "$sys/usr/bin/$name")" = "/etc/alternatives/$name" ] || fail "no $name link"
  [ "$(readlink "$sys/etc/alternatives/$name")" = /usr/bin/heartlock ] || fail "$name alternative"
  [ "$(readlink "$sys/etc/alternatives/$name.1.gz")" = /usr/share/man/man1/heartlock.1.gz ] ||
    fail "$name.1.gz alternative"
  # Called by that name, heartlock is the cronlock drop-in: its usage and exit code 201.
  status=0
  usage=$(exec -a "$name" "$sys/usr/bin/heartlock" 2>&1) || status=$?
  [ "$status" = 201 ] && grep -q '^cronlock: usage' <<<"$usage" || fail "as $name: $status $usage"
done
"$sys/usr/bin/heartlock" --version >/dev/null || fail "installed heartlock --version"
if command -v systemd-sysusers >/dev/null; then
  grep -q '^heartlock:' "$sys/etc/passwd" || fail "postinst made no user heartlock"
fi
"${dpkg_root[@]}" --purge heartlock >"$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log"; fail "purge"; }
[ ! -e "$sys/usr/bin/heartlock" ] && [ ! -L "$sys/usr/bin/cronlock" ] &&
  [ ! -L "$sys/etc/alternatives/golock" ] || fail "purge left files or alternatives"
echo "dpkg --root: installed, upgraded (cronlock and golock alternatives), purged"
