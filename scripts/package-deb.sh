#!/usr/bin/env bash
# Builds the Debian packages dist/deb/wardgate_<version>_<arch>.deb with dpkg-deb:
#   /usr/lib/wardgate       the compiled gateway (dist/), bin/wardgate.js, production node_modules
#   /usr/bin/wardgate       -> ../lib/wardgate/bin/wardgate.js
#   /lib/systemd/system/wardgate.service, /usr/share/wardgate/ble.conf (BLE drop-in, installed by
#   postinst only when devices.ble is configured), /etc/wardgate/wardgate.yaml (conffile),
#   /lib/udev/rules.d/60-wardgate-serial.rules, docs in /usr/share/doc/wardgate.
#
# Run without arguments: builds amd64 and arm64. WARDGATE_DEB_ARCHS="amd64" (or "arm64") builds
# only those. The host's own architecture reuses the repository's node_modules (pruned to
# production); another architecture is installed with `npm ci --omit=dev` and its native modules
# (better-sqlite3, unix-dgram, serialport, noble's HCI socket) compiled from source with Debian's
# cross compiler (apt-get install crossbuild-essential-arm64); each .node file's ELF machine is
# checked with readelf. No network is used but the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VERSION=$(node -p 'require("./package.json").version')
HOST_ARCH=$(dpkg --print-architecture)
ARCHS=${WARDGATE_DEB_ARCHS:-amd64 arm64}
OUT=$REPO/dist/deb
mkdir -p "$OUT"
[ -d /usr/include/node ] && export npm_config_nodedir=/usr

# WARDGATE_DEB_SKIP_BUILD=1: dist/ is already built from these sources (the package test builds it first).
if [ "${WARDGATE_DEB_SKIP_BUILD:-}" != 1 ]; then
  echo "building the gateway (tsc)"
  npm run -s build
fi

elf_machine() { readelf -h "$1" | sed -n 's/^ *Machine: *//p'; }

# Production node_modules for $1 (a Debian architecture) into $2.
node_modules_for() {
  local arch=$1 dest=$2
  cp package.json package-lock.json "$dest/"
  # patches/ (patch-package, npm's postinstall): applied to the staged modules below, whichever way
  # they were made (a copy of this repository's, or `npm ci`, whose postinstall applies them too).
  cp -r patches "$dest/patches"
  local triple=""
  if [ "$arch" = "$HOST_ARCH" ]; then
    # The folder itself when node_modules is a symbolic link (a clone sharing another's modules):
    # a copied link is replaced by npm prune with an install that builds no native module.
    cp -a "$(readlink -f node_modules)" "$dest/node_modules"
    (cd "$dest" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts --offline >/dev/null)
  else
    case "$arch" in
      arm64) triple=aarch64-linux-gnu ;;
      amd64) triple=x86_64-linux-gnu ;;
      *) echo "unsupported architecture $arch" >&2; return 1 ;;
    esac
    command -v "$triple-g++" >/dev/null || { echo "no cross compiler $triple-g++: apt-get install crossbuild-essential-$arch (or WARDGATE_DEB_ARCHS=$HOST_ARCH)" >&2; return 1; }
    local npm_arch=$arch; [ "$arch" = amd64 ] && npm_arch=x64
    (cd "$dest" && CC=$triple-gcc CXX=$triple-g++ LINK=$triple-g++ AR=$triple-ar \
      npm_config_arch=$npm_arch npm_config_target_arch=$npm_arch npm_config_cpu=$npm_arch npm_config_os=linux npm_config_build_from_source=true \
      npm ci --omit=dev --no-audit --no-fund >/dev/null)
  fi
  (cd "$dest" && "$REPO/node_modules/.bin/patch-package" >/dev/null)
  rm -rf "$dest/package.json" "$dest/package-lock.json" "$dest/patches"
  # Prebuilt binaries for other systems (node-gyp-build's prebuilds/<platform>-<arch>/) are dropped.
  local node_arch=$arch; [ "$arch" = amd64 ] && node_arch=x64
  local d p
  while IFS= read -r d; do
    for p in "$d"/*; do
      case "$(basename "$p")" in linux-"$node_arch"|linux-"$node_arch"-*|linux-"$node_arch"@*) ;; *) rm -rf "$p" ;; esac
    done
  done < <(find "$dest/node_modules" -type d -name prebuilds -prune)
  # Build intermediates and sources of native modules are not needed at run time.
  find "$dest/node_modules" -type d \( -name obj.target -o -name obj -o -name .deps \) -path '*/build/*' -prune -exec rm -rf {} +
  find "$dest/node_modules" -type f \( -name '*.a' -o -name '*.map' -o -name '*.o' \) -delete
  rm -rf "$dest/node_modules/better-sqlite3/deps" "$dest/node_modules/better-sqlite3/src" "$dest/node_modules/.package-lock.json"
  # Not for Debian (musl, Windows), test-only, or lint/VCS files.
  find "$dest/node_modules" -type f \( -name '*.musl.node' -o -name 'test_extension.node' -o -name '.eslintrc*' -o -name '.npmignore' \
    -o -name '.gitattributes' -o -name '.gitignore' -o -name '.travis.yml' -o -name '*.lib' -o -name '*.exe' -o -name '*.dll' \) -delete
  find "$dest/node_modules" -type d -name .github -prune -exec rm -rf {} +
  # Native modules: shared objects, mode 0644, stripped with the target's binutils.
  local strip=strip; [ "$arch" != "$HOST_ARCH" ] && strip=$triple-strip
  find "$dest/node_modules" -name '*.node' -type f -exec chmod 0644 {} + -exec "$strip" --strip-unneeded {} +
  # Every native module must be built for the package's architecture.
  local want; case "$arch" in arm64) want=AArch64 ;; amd64) want="Advanced Micro Devices X86-64" ;; esac
  local bad=0 f m
  # The modules built from source (no prebuilt binary): without them the gateway cannot start.
  for f in better-sqlite3/build/Release/better_sqlite3.node unix-dgram/build/Release/unix_dgram.node; do
    [ -f "$dest/node_modules/$f" ] || { echo "missing native module: node_modules/$f (not built for $arch)" >&2; bad=1; }
  done
  while IFS= read -r f; do
    m=$(elf_machine "$f")
    if [ "$m" != "$want" ]; then echo "wrong architecture: $f is $m, want $want" >&2; bad=1; fi
  done < <(find "$dest/node_modules" -name '*.node' -type f)
  [ $bad -eq 0 ]
}

build_arch() {
  local arch=$1
  local stage; stage=$(mktemp -d "$OUT/.stage-$arch.XXXXXX")
  trap "rm -rf '$stage'" EXIT
  local root=$stage/root
  local lib=$root/usr/lib/wardgate
  echo "staging wardgate $VERSION for $arch"
  mkdir -p "$lib/bin" "$lib/dist" "$root/usr/bin" "$root/lib/systemd/system" "$root/lib/udev/rules.d" \
    "$root/etc/wardgate" "$root/usr/share/wardgate" "$root/usr/share/doc/wardgate" "$root/DEBIAN"
  cp -a dist/src "$lib/dist/src"
  cp -a dist/hardware-mocks "$lib/dist/hardware-mocks"
  find "$lib/dist" -name '*.map' -delete
  cp bin/wardgate.js "$lib/bin/wardgate.js"
  node -e 'const p=require("./package.json"); console.log(JSON.stringify({name:p.name,version:p.version,type:p.type,license:p.license},null,2))' > "$lib/package.json"
  node_modules_for "$arch" "$lib"
  ln -s ../lib/wardgate/bin/wardgate.js "$root/usr/bin/wardgate"
  install -m 0644 systemd/wardgate.service "$root/lib/systemd/system/wardgate.service"
  install -m 0644 systemd/wardgate.service.d/ble.conf "$root/usr/share/wardgate/ble.conf"
  install -m 0644 packaging/deb/60-wardgate-serial.rules "$root/lib/udev/rules.d/60-wardgate-serial.rules"
  install -m 0644 packaging/deb/wardgate.yaml "$root/etc/wardgate/wardgate.yaml"
  install -m 0644 packaging/deb/copyright "$root/usr/share/doc/wardgate/copyright"
  install -m 0644 wardgate.example.yaml "$root/usr/share/doc/wardgate/wardgate.example.yaml"
  for d in operations.md security.md prometheus-rules.yaml grafana-dashboard.json; do
    [ -f "docs/$d" ] && install -m 0644 "docs/$d" "$root/usr/share/doc/wardgate/$d"
  done
  printf 'wardgate (%s) unstable; urgency=medium\n\n  * Package built from the wardgate repository.\n\n -- wardgate maintainers <maintainers@wardgate.invalid>  %s\n' \
    "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$root/usr/share/doc/wardgate/changelog.gz"
  install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
  echo /etc/wardgate/wardgate.yaml > "$root/DEBIAN/conffiles"
  mkdir -p "$root/usr/share/lintian/overrides"
  install -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/wardgate"
  local size; size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  cat > "$root/DEBIAN/control" <<EOF
Package: wardgate
Version: $VERSION
Architecture: $arch
Maintainer: wardgate maintainers <maintainers@wardgate.invalid>
Installed-Size: $size
Depends: nodejs (>= 20), adduser, libc6, libstdc++6, systemd
Recommends: bluez
Section: net
Priority: optional
Homepage: https://github.com/wardgate/wardgate
Description: edge gateway for hospital wards (devices to encrypted buffer to Kafka)
 wardgate reads bedside monitors (serial), wearables (BLE) and sensors (MQTT),
 stores every reading in an encrypted store-and-forward buffer on disk and
 forwards it to Apache Kafka, alarms first. Runs as the systemd service
 wardgate (Type=notify with a watchdog) as the system user wardgate.
 .
 Node.js 20 or later is required (Raspberry Pi OS bookworm ships 18: install
 nodejs from NodeSource's node_20.x repository first).
EOF
  # Files root-owned; directories 0755, files 0644 unless executable.
  find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
  find "$root" -path "$root/DEBIAN" -prune -o -type f -perm /111 -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  local deb=$OUT/wardgate_${VERSION}_${arch}.deb
  echo "  staged in ${SECONDS}s; compressing"
  dpkg-deb --root-owner-group -Zgzip -z9 --build "$root" "$deb" >/dev/null
  rm -rf "$stage"
  trap - EXIT
  echo "  built in ${SECONDS}s"
  echo "$deb"
}

for a in $ARCHS; do build_arch "$a"; done
