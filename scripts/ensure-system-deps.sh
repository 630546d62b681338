#!/usr/bin/env bash
# System packages the WebGPU backend's tests need on Debian 12 (bookworm):
#   - libvulkan1 + Mesa >= 25 lavapipe (software Vulkan) from bookworm-backports,
#     because Dawn (the `webgpu` npm package) rejects bookworm's Mesa 22;
#   - chromium, for the headless browser smoke test (SwiftShader WebGPU);
#   - fortunes, Debian's fortune-cookie texts: the corpus `npm run demo` pretrains its base model on.
# Idempotent: returns at once when everything is present. Must run as root;
# outside CI a non-root run only explains what is missing and skips.
# Called by scripts/ensure-deps.sh. Progress goes to stderr.
set -euo pipefail

log() { echo "[lowrank:system] $*" >&2; }

installed_version() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" { print $4 }'
}

mesa_is_recent() {
  local v
  v="$(installed_version mesa-vulkan-drivers)"
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25
}

missing=()
[ -n "$(installed_version libvulkan1)" ] || missing+=(libvulkan1)
mesa_is_recent || missing+=("mesa-vulkan-drivers>=25 (bookworm-backports)")
[ -n "$(installed_version chromium)" ] || missing+=(chromium)
[ -n "$(installed_version fortunes)" ] || missing+=(fortunes)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || [ ! -r /etc/os-release ]; then
  log "not a Debian system; WebGPU tests need (install by hand): ${missing[*]}"
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    log "CI=true but not root: cannot install ${missing[*]}; run this script as root"
    exit 1
  fi
  log "skipping system packages (not root): ${missing[*]}"
  log "WebGPU tests will skip; run 'sudo bash scripts/ensure-system-deps.sh' to enable them"
  exit 0
fi

# shellcheck disable=SC1091
. /etc/os-release
codename="${VERSION_CODENAME:-bookworm}"
backports="${codename}-backports"
export DEBIAN_FRONTEND=noninteractive

# The archive URI of the machine's own Debian source (never a hard-coded host):
# deb822 `.sources` files first, then classic one-line lists. Prints one line.
debian_archive_uri() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri="$(awk -v suite="$codename" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
          if ($i ~ /^Suites:/) { n = split(substr($i, 8), s, /[ \t]+/); for (j = 1; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && uris != "" && !found) { print uris; found = 1 }
      }' "$f")"
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri="$(awk -v suite="$codename" '$1 == "deb" && !found { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == suite) { print $i; found = 1; break } }' "$f")"
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  return 0
}

has_backports_source() {
  grep -rqsE "(^|[[:space:]])${backports}([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

if ! mesa_is_recent && ! has_backports_source; then
  uri="$(debian_archive_uri)"
  if [ -z "$uri" ]; then
    log "no Debian '$codename' apt source found to derive '$backports' from; add it by hand"
    exit 1
  fi
  log "adding apt source: $uri $backports main"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $backports"
    echo "Components: main"
    [ -r "$keyring" ] && echo "Signed-By: $keyring"
  } >/etc/apt/sources.list.d/lowrank-backports.sources
fi

log "apt-get update"
apt-get update -qq >&2

if [ -z "$(installed_version libvulkan1)" ]; then
  log "installing libvulkan1"
  apt-get install -y -qq libvulkan1 >&2
fi
if ! mesa_is_recent; then
  log "installing mesa-vulkan-drivers from $backports (lavapipe)"
  apt-get install -y -qq -t "$backports" mesa-vulkan-drivers >&2
fi
if [ -z "$(installed_version chromium)" ]; then
  log "installing chromium"
  apt-get install -y -qq --no-install-recommends chromium >&2
fi
if [ -z "$(installed_version fortunes)" ]; then
  log "installing fortunes (the demo's pretraining corpus)"
  apt-get install -y -qq --no-install-recommends fortunes >&2
fi
log "system packages ready: libvulkan1 $(installed_version libvulkan1), mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers), chromium $(installed_version chromium), fortunes $(installed_version fortunes)"
