#!/usr/bin/env bash
# Stages the container image's whole root filesystem into DEST: the given ELF binaries in
# /usr/local/bin, exactly the shared libraries they load (per ldd, at the paths the loader
# resolved them from, so the layout is right on any architecture), the dynamic loader, a
# non-root user, the CA bundle and /tmp. Nothing else: no shell, no package manager.
#
#   ci/docker/rootfs.sh DEST BINARY...
#
# The Dockerfile's build stage runs it and copies DEST into a scratch image; the image test
# (tests/deploy/image) runs it on the test machine and executes the result with chroot.
# Must run as root (file ownership).
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 DEST BINARY..." >&2
  exit 2
fi
dest=$1
shift

# The numeric user the image runs as (distroless convention); Kubernetes' runAsNonRoot needs it
# numeric, and 65532 collides with no system account.
readonly uid=65532 gid=65532
readonly ca_bundle=/etc/ssl/certs/ca-certificates.crt
# The collector's working directory: the default file sink (./data/events.ndjson) lands here.
readonly workdir=/var/lib/iot-collector

if [[ -e $dest ]] && [[ -n $(ls -A "$dest") ]]; then
  echo "rootfs: $dest exists and is not empty" >&2
  exit 1
fi
mkdir -p "$dest"

# Copies a file's content (symlinks resolved) to the same absolute path under $dest, keeping its
# mode: the loader is executed by the kernel and needs its exec bit.
stage() {
  local source=$1 target=$dest$1
  mkdir -p "$(dirname "$target")"
  cp --dereference --preserve=mode "$source" "$target"
  chown 0:0 "$target"
}

libraries=()
for binary in "$@"; do
  if [[ ! -f $binary ]]; then
    echo "rootfs: $binary: no such file" >&2
    exit 1
  fi
  install -D -o 0 -g 0 -m 0755 "$binary" "$dest/usr/local/bin/$(basename "$binary")"

  # A library ldd cannot resolve would make the image fail only when it starts: fail the build.
  if ! listing=$(ldd "$binary"); then
    echo "rootfs: ldd $binary failed (not a dynamic executable?)" >&2
    exit 1
  fi
  if grep -q 'not found' <<<"$listing"; then
    echo "rootfs: $binary has unresolved libraries:" >&2
    grep 'not found' <<<"$listing" >&2
    exit 1
  fi
  # "libx.so.1 => /lib/<triplet>/libx.so.1 (0x...)" and the loader as "/lib64/ld-....so.2 (0x...)";
  # the vDSO has no path and lives in the kernel.
  while IFS= read -r library; do
    libraries+=("$library")
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$listing")

  # The kernel loads PT_INTERP by this exact path; ldd may have printed it under another name.
  interpreter=$(readelf --program-headers "$binary" |
    sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
  if [[ -n $interpreter ]]; then
    libraries+=("$interpreter")
  fi
done

for library in $(printf '%s\n' "${libraries[@]}" | sort -u); do
  stage "$library"
done

install -d -o 0 -g 0 -m 0755 "$dest/etc" "$dest/etc/ssl" "$dest/etc/ssl/certs"
printf '%s\n' \
  'root:x:0:0:root:/root:/sbin/nologin' \
  "nonroot:x:$uid:$gid:nonroot:$workdir:/sbin/nologin" >"$dest/etc/passwd"
printf '%s\n' 'root:x:0:' "nonroot:x:$gid:" >"$dest/etc/group"
# glibc's built-in files and dns backends; /etc/hosts (which Docker and Kubernetes write) first.
printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$dest/etc/nsswitch.conf"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/nsswitch.conf"

# https to Elasticsearch with the system trust store: OpenSSL's default verify file is
# OPENSSLDIR/cert.pem (Debian: /usr/lib/ssl, on every architecture); the Dockerfile also sets
# SSL_CERT_FILE.
if [[ ! -f $ca_bundle ]]; then
  echo "rootfs: $ca_bundle missing: install ca-certificates in the build stage" >&2
  exit 1
fi
install -o 0 -g 0 -m 0644 "$ca_bundle" "$dest$ca_bundle"
install -d -o 0 -g 0 -m 0755 "$dest/usr/lib/ssl"
ln -s "$ca_bundle" "$dest/usr/lib/ssl/cert.pem"

install -d -o 0 -g 0 -m 1777 "$dest/tmp"
install -d -o 0 -g 0 -m 0755 "$dest/var" "$dest/var/lib"
install -d -o "$uid" -g "$gid" -m 0750 "$dest$workdir"

echo "rootfs: staged $# binaries and $(printf '%s\n' "${libraries[@]}" | sort -u | wc -l) libraries into $dest"
