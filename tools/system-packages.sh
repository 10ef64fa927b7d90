#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing (as root, with apt-get):
# rsync and OpenSSH for the machine tests, g++ and librocksdb-dev for the RocksDB plugin's
# native tool, curl for the README's first-backup script, Chromium for the web console's browser
# tests (driven by playwright-core; never a downloaded browser). Without root or apt-get it names what
# is missing and stops.
set -uo pipefail
missing=()
for tool in rsync git openssl curl; do command -v "$tool" > /dev/null || missing+=("$tool"); done
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen > /dev/null || missing+=(openssh-client)
command -v g++ > /dev/null || missing+=(g++)
[ -f /usr/include/rocksdb/utilities/checkpoint.h ] || missing+=(librocksdb-dev)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
  echo "the tests need these Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]}"
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
