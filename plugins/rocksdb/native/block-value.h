// The block layout the replica stand-in writes and `chainvault-rocksdb scan-blocks` checks:
// one definition, so a checker cannot drift from the writer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace chainvault {

// Keys are "block/" + the number padded to 12 digits, so byte order is block order.
inline const char* const kBlockPrefix = "block/";
inline const char* const kLastBlockKey = "meta/lastBlockId";
inline constexpr std::size_t kDefaultValueSize = 1024;

inline std::string blockKey(std::uint64_t block) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%012llu", static_cast<unsigned long long>(block));
  return std::string(kBlockPrefix) + digits;
}

// A value that depends on the block number only: xorshift64 over a seed spread from the
// number (xorshift64 never leaves state 0, so the seed must not be 0).
inline std::string blockValue(std::uint64_t block, std::size_t size) {
  std::uint64_t state = (block + 1) * 0x9E3779B97F4A7C15ULL ^ 0xD1B54A32D192ED03ULL;
  if (state == 0) state = 0x2545F4914F6CDD1DULL;
  std::string value(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    for (std::size_t b = 0; b < 8 && i + b < size; ++b) value[i + b] = static_cast<char>((state >> (8 * b)) & 0xff);
  }
  return value;
}

}  // namespace chainvault
