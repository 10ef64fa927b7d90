#!/usr/bin/env bash
# Builds the RocksDB plugin's native programs into dist/native/ against the system RocksDB
# (Debian librocksdb-dev). A binary newer than its sources, the shared header and this
# script is left as it is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(cd "$here/.." && pwd)/dist/native"
cxx="${CXX:-g++}"
flags=(-O2 -std=c++17 -Wall -Wextra)
libs=(-lrocksdb -lpthread)

die() {
  echo "plugins/rocksdb/native/build.sh: $*" >&2
  exit 1
}

# Without a compiler or RocksDB's headers the server still builds and starts: the plugin loads,
# and its jobs fail saying the native tool is missing and which package provides it.
# CHAINVAULT_REQUIRE_NATIVE=1 (set by npm test and CI) makes that an error instead.
skip() {
  if [[ "${CHAINVAULT_REQUIRE_NATIVE:-}" == 1 ]]; then die "$*"; fi
  echo "plugins/rocksdb/native/build.sh: warning: $*; the rocksdb plugin's jobs fail until it is built" >&2
  exit 0
}
command -v "$cxx" >/dev/null 2>&1 || skip "no C++ compiler '$cxx' found; install the Debian package g++ (apt-get install g++)"
if ! echo '#include <rocksdb/utilities/checkpoint.h>' | "$cxx" -std=c++17 -x c++ -E - -o /dev/null 2>/dev/null; then
  skip "the RocksDB C++ headers (rocksdb/utilities/checkpoint.h) are missing; install the Debian package librocksdb-dev (apt-get install librocksdb-dev)"
fi

mkdir -p "$out"

build() {
  local name="$1" source="$here/$2" binary="$out/$1"
  # Rebuilt when a source, this script or the system RocksDB (its version header) is newer than the binary.
  if [[ -x "$binary" && -z "$(find "$source" "$here/block-value.h" "$here/build.sh" /usr/include/rocksdb/version.h -newer "$binary" 2>/dev/null)" ]]; then
    echo "native: $name is up to date"
    return
  fi
  echo "native: building $name"
  if ! "$cxx" "${flags[@]}" ${CXXFLAGS:-} -o "$binary.tmp" "$source" "${libs[@]}"; then
    rm -f "$binary.tmp"
    die "building $name failed (it needs g++ and the Debian package librocksdb-dev: RocksDB headers and librocksdb.so)"
  fi
  mv -f "$binary.tmp" "$binary"
}

# The two compile in parallel: each takes seconds, mostly in RocksDB's headers.
build chainvault-rocksdb chainvault-rocksdb.cc &
first=$!
build replica-standin replica-standin.cc &
second=$!
status=0
wait "$first" || status=1
wait "$second" || status=1
exit "$status"
