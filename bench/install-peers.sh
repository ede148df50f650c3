#!/usr/bin/env bash
# Installs the benchmark's peer servers and client tools from the package registries only:
# Debian (nginx-light, vsftpd, pure-ftpd, wrk, curl, taskset), crates.io (dufs) and PyPI
# (copyparty + pyftpdlib). Idempotent: what is already there is kept. Nothing is started:
# bench/run starts each server itself, on loopback, with its own config.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/.peers"
mkdir -p "$peers"

# Debian ships vsftpd and pure-ftpd as conflicting packages (both provide ftp-server), so
# vsftpd is installed and pure-ftpd is unpacked from its Debian package into .peers/pure-ftpd
# (its libraries are installed normally).
need_apt=()
for pair in nginx:nginx-light vsftpd:vsftpd wrk:wrk curl:curl taskset:util-linux unzip:unzip \
            lib:libsodium23 lib:libcap2 lib:libpam0g lib:libssl3 lib:libcrypt1; do
  cmd="${pair%%:*}"; pkg="${pair#*:}"
  if [ "$cmd" = lib ]; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need_apt+=("$pkg")
  elif ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
    need_apt+=("$pkg")
  fi
done
if [ "${#need_apt[@]}" -gt 0 ] || ! [ -x "$peers/pure-ftpd/usr/sbin/pure-ftpd" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-peers: need root for apt-get (${need_apt[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  # Debian starts a daemon on install unless policy-rc.d forbids it; the benchmark wants
  # none running (it starts its own on loopback), so forbid it for this install only.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
if ! [ -x "$peers/pure-ftpd/usr/sbin/pure-ftpd" ]; then
  rm -rf "$peers/debs" && mkdir -p "$peers/debs"
  (cd "$peers/debs" && apt-get download -qq pure-ftpd 2>/dev/null)
  dpkg-deb -x "$peers"/debs/pure-ftpd_*.deb "$peers/pure-ftpd"
fi

# dufs from crates.io, into bench/.peers/bin (the Cargo.lock it ships, pinned by --locked).
if ! [ -x "$peers/bin/dufs" ]; then
  cargo install dufs --locked --root "$peers" --quiet
fi

# copyparty (with pyftpdlib for its FTP server) from PyPI, in a venv.
if ! [ -x "$peers/venv/bin/copyparty" ]; then
  python3 -m venv "$peers/venv"
  "$peers/venv/bin/pip" install --quiet --disable-pip-version-check copyparty pyftpdlib
fi

echo "peers installed:"
printf '  nginx      %s\n' "$(/usr/sbin/nginx -v 2>&1 | sed 's/.*version: //')"
printf '  vsftpd     %s\n' "$(dpkg-query -W -f='${Version}' vsftpd)"
printf '  pure-ftpd  %s\n' "$(basename "$peers"/debs/pure-ftpd_*.deb .deb | cut -d_ -f2)"
printf '  dufs       %s\n' "$("$peers/bin/dufs" --version)"
printf '  copyparty  %s\n' "$("$peers/venv/bin/pip" show copyparty | sed -n 's/^Version: //p')"
printf '  wrk        %s\n' "$(dpkg-query -W -f='${Version}' wrk)"
printf '  curl       %s\n' "$(curl --version | head -1)"
