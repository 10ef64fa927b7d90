// chainvault-rocksdb: what the chainvault RocksDB plugin needs to know about a RocksDB
// directory (inspect, verify, checkpoint, get, scan-blocks), answered as one JSON line.
//
// Exit codes: 0 success (one JSON line on stdout); 2 failure (one line on stderr naming the
// directory or file and RocksDB's status); 3 the database holds another block than
// --expect-block; 64 bad usage.
//
// Read-only commands never write into the directory: they open it with
// DB::OpenForReadOnly and a logger that discards everything, so not even a LOG file appears.

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/version.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "block-value.h"

namespace fs = std::filesystem;

namespace {

constexpr int kExitFailure = 2;
constexpr int kExitWrongBlock = 3;
constexpr int kExitUsage = 64;

const char* const kUsage =
    "usage: chainvault-rocksdb inspect <dbDir> [--block-prefix P] [--column-family CF] [--expect-block N]\n"
    "       chainvault-rocksdb verify <dbDir> [--block-prefix P] [--column-family CF] [--expect-block N]\n"
    "       chainvault-rocksdb checkpoint <dbDir> <outDir> [--block-prefix P] [--column-family CF]\n"
    "       chainvault-rocksdb get <dbDir> <key> [--column-family CF]\n"
    "       chainvault-rocksdb scan-blocks <dbDir> --block-prefix P [--column-family CF] [--value-size BYTES]"
    " [--expect-block N]\n";

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(const std::string& message, int code = kExitFailure) { throw Failure{code, message}; }

// ---------------------------------------------------------------------------------------
// JSON output

bool isUtf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra;
    if (c < 0x80) extra = 0;
    else if (c >= 0xC2 && c <= 0xDF) extra = 1;
    else if (c >= 0xE0 && c <= 0xEF) extra = 2;
    else if (c >= 0xF0 && c <= 0xF4) extra = 3;
    else return false;
    if (extra > 0 && i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    const auto next = extra > 0 ? static_cast<unsigned char>(s[i + 1]) : 0;
    // Overlong forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8.
    if ((c == 0xE0 && next < 0xA0) || (c == 0xED && next >= 0xA0) || (c == 0xF0 && next < 0x90) ||
        (c == 0xF4 && next >= 0x90))
      return false;
    i += extra + 1;
  }
  return true;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Escapes a UTF-8 string; callers pass only valid UTF-8 (see keyJson).
std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Keys are bytes: printed as text when they are UTF-8, otherwise as "0x" + hex.
std::string keyJson(const std::string& key) { return jsonString(isUtf8(key) ? key : "0x" + hex(key)); }

std::string numberOrNull(const std::optional<std::uint64_t>& n) { return n ? std::to_string(*n) : "null"; }

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Arguments

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::optional<std::string> blockPrefix;
  std::optional<std::string> columnFamily;
  std::optional<std::uint64_t> expectBlock;
  std::optional<std::uint64_t> valueSize;
};

[[noreturn]] void usage(const std::string& problem) {
  fail(problem + " (chainvault-rocksdb help shows the usage)", kExitUsage);
}

std::optional<std::uint64_t> parseDecimal(const std::string& s) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

Args parseArgs(int argc, char** argv) {
  Args args;
  if (argc < 2) usage("missing command");
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      args.positional.push_back(arg);
      continue;
    }
    std::string value;
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--block-prefix") {
      if (value.empty()) usage("--block-prefix must not be empty");
      args.blockPrefix = value;
    } else if (arg == "--column-family") {
      args.columnFamily = value;
    } else if (arg == "--expect-block") {
      args.expectBlock = parseDecimal(value);
      if (!args.expectBlock) usage("--expect-block takes a block number, not '" + value + "'");
    } else if (arg == "--value-size") {
      args.valueSize = parseDecimal(value);
      if (!args.valueSize || *args.valueSize > (64u << 20)) usage("--value-size takes a byte count, not '" + value + "'");
    } else {
      usage("unknown option " + arg);
    }
  }
  return args;
}

// ---------------------------------------------------------------------------------------
// Opening a database

// RocksDB would otherwise create <dbDir>/LOG, which a read-only look must not do.
class DiscardingLogger : public rocksdb::Logger {
 public:
  DiscardingLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
  void Logv(const rocksdb::InfoLogLevel /*level*/, const char* /*format*/, va_list /*ap*/) override {}
};

rocksdb::Options baseOptions() {
  rocksdb::Options options;
  options.create_if_missing = false;
  options.error_if_exists = false;
  options.info_log = std::make_shared<DiscardingLogger>();
  options.max_open_files = -1;  // open every table file at once: a missing or damaged one fails the open
  return options;
}

struct Database {
  std::string dir;
  rocksdb::DB* db = nullptr;
  std::vector<std::string> families;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() { close(); }

  void close() {
    if (!db) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    db->Close();
    delete db;
    db = nullptr;
  }

  rocksdb::ColumnFamilyHandle* family(const std::optional<std::string>& name) const {
    const std::string wanted = name.value_or(rocksdb::kDefaultColumnFamilyName);
    for (std::size_t i = 0; i < families.size(); ++i)
      if (families[i] == wanted) return handles[i];
    std::string known;
    for (const auto& f : families) known += (known.empty() ? "" : ", ") + f;
    fail(dir + " has no column family '" + wanted + "' (it has: " + known + ")");
  }
};

void requireDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir + ": no such directory");
  if (!fs::is_directory(dir, ec)) fail(dir + ": not a directory");
}

// When RocksDB's status names a table file the folder lacks, say so in plain words first.
// RocksDB looks for NNNNNN.sst, then for the LevelDB name NNNNNN.ldb, and reports the latter.
std::string explainOpenFailure(const std::string& dir, const rocksdb::Status& s, const std::string& how) {
  const std::string text = s.ToString();
  for (std::size_t i = 0; i + 4 <= text.size(); ++i) {
    if (text.compare(i, 4, ".sst") != 0 && text.compare(i, 4, ".ldb") != 0) continue;
    std::size_t start = i;
    while (start > 0 && std::isdigit(static_cast<unsigned char>(text[start - 1]))) --start;
    if (start == i) continue;
    const std::string number = text.substr(start, i - start);
    if (!fs::exists(fs::path(dir) / (number + ".sst")) && !fs::exists(fs::path(dir) / (number + ".ldb")))
      return dir + ": " + number + ".sst is listed in the MANIFEST but missing from the folder (RocksDB: " + text + ")";
  }
  return "cannot open RocksDB database " + dir + " " + how + ": " + text;
}

std::vector<std::string> listFamilies(const std::string& dir, const rocksdb::Options& options) {
  std::vector<std::string> families;
  const rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &families);
  if (!s.ok()) fail("cannot read the column families of " + dir + ": " + s.ToString());
  return families;
}

std::vector<rocksdb::ColumnFamilyDescriptor> descriptors(const std::vector<std::string>& families) {
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (const auto& name : families) out.emplace_back(name, rocksdb::ColumnFamilyOptions());
  return out;
}

// A writer may delete a table file or switch MANIFEST between our reading the MANIFEST and
// opening the tables, so a failed open of a live database is tried again a few times.
rocksdb::Status tryOpenReadOnly(Database& database, const std::string& dir, rocksdb::WALRecoveryMode walMode) {
  requireDirectory(dir);
  database.dir = dir;
  rocksdb::Options options = baseOptions();
  options.wal_recovery_mode = walMode;
  rocksdb::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    database.families.clear();
    database.handles.clear();
    s = rocksdb::DB::ListColumnFamilies(options, dir, &database.families);
    if (!s.ok()) continue;
    s = rocksdb::DB::OpenForReadOnly(options, dir, descriptors(database.families), &database.handles, &database.db,
                                     /*error_if_wal_file_exists=*/false);
    if (s.ok()) return s;
    database.db = nullptr;
    if (s.IsInvalidArgument() || s.IsNotSupported()) break;
  }
  return s;
}

void openReadOnly(Database& database, const std::string& dir) {
  const rocksdb::Status s = tryOpenReadOnly(database, dir, rocksdb::WALRecoveryMode::kPointInTimeRecovery);
  if (!s.ok()) fail(explainOpenFailure(dir, s, "read-only"));
}

void openReadWrite(Database& database, const std::string& dir) {
  requireDirectory(dir);
  database.dir = dir;
  const rocksdb::Options options = baseOptions();
  database.families = listFamilies(dir, options);
  const rocksdb::Status s =
      rocksdb::DB::Open(options, dir, descriptors(database.families), &database.handles, &database.db);
  if (s.ok()) return;
  database.db = nullptr;
  std::string text = s.ToString();
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s.IsIOError() && lower.find("lock") != std::string::npos)
    fail("cannot open " + dir + " read-write: another process holds it open (its LOCK file is taken): " + text);
  fail(explainOpenFailure(dir, s, "read-write"));
}

// ---------------------------------------------------------------------------------------
// inspect

struct LastBlock {
  std::optional<std::uint64_t> number;
  std::optional<std::string> key;
};

LastBlock findLastBlock(const Database& database, const Args& args) {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(database.db->NewIterator(ro, database.family(args.columnFamily)));
  LastBlock last;
  if (!args.blockPrefix) {
    it->SeekToLast();
    if (it->Valid()) last.key = it->key().ToString();
  } else {
    const std::string& prefix = *args.blockPrefix;
    // Block numbers are digits, which sort below 0xff: this lands on the greatest key with the prefix.
    it->SeekForPrev(prefix + std::string(8, '\xff'));
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
      const auto n = parseDecimal(it->key().ToString().substr(prefix.size()));
      if (n) {
        last.number = n;
        last.key = it->key().ToString();
        break;
      }
    }
  }
  if (!it->status().ok()) fail("cannot read " + database.dir + ": " + it->status().ToString());
  return last;
}

std::string manifestName(const Database& database) {
  std::vector<std::string> files;
  std::uint64_t manifestSize = 0;
  const rocksdb::Status s = database.db->GetLiveFiles(files, &manifestSize, /*flush_memtable=*/false);
  if (s.ok())
    for (const auto& f : files)
      if (f.rfind("/MANIFEST-", 0) == 0) return f.substr(1);
  std::ifstream current(fs::path(database.dir) / "CURRENT");
  std::string name;
  std::getline(current, name);
  return name;
}

std::vector<rocksdb::LiveFileMetaData> liveFiles(const Database& database) {
  std::vector<rocksdb::LiveFileMetaData> files;
  database.db->GetLiveFilesMetaData(&files);
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.relative_filename < b.relative_filename; });
  return files;
}

void checkExpectedBlock(const std::string& dir, const Args& args, const std::optional<std::uint64_t>& last) {
  if (!args.expectBlock || last == args.expectBlock) return;
  const std::string holds = last ? "block " + std::to_string(*last) : "no block under prefix '" + *args.blockPrefix + "'";
  fail(dir + ": the database holds " + holds + ", not " + std::to_string(*args.expectBlock), kExitWrongBlock);
}

// inspect's JSON object without its closing brace, so verify can add fields.
std::string inspectFields(const Database& database, const Args& args) {
  const LastBlock last = findLastBlock(database, args);
  checkExpectedBlock(database.dir, args, last.number);

  std::string out = "{\"rocksdbVersion\":" + jsonString(rocksdb::GetRocksVersionAsString(true));
  out += ",\"sequence\":" + std::to_string(database.db->GetLatestSequenceNumber());
  out += ",\"lastBlock\":" + numberOrNull(last.number);
  out += ",\"lastKey\":" + (last.key ? keyJson(*last.key) : std::string("null"));
  out += ",\"columnFamilies\":[";
  for (std::size_t i = 0; i < database.families.size(); ++i) out += (i ? "," : "") + jsonString(database.families[i]);
  out += "],\"liveFiles\":[";
  const auto files = liveFiles(database);
  for (std::size_t i = 0; i < files.size(); ++i) {
    out += std::string(i ? "," : "") + "{\"name\":" + jsonString(files[i].relative_filename) +
           ",\"size\":" + std::to_string(files[i].size) + ",\"columnFamily\":" + jsonString(files[i].column_family_name) +
           ",\"level\":" + std::to_string(files[i].level) + "}";
  }
  out += "],\"manifest\":" + jsonString(manifestName(database));
  std::uint64_t keys = 0;
  for (auto* h : database.handles) {
    std::uint64_t n = 0;
    if (database.db->GetIntProperty(h, "rocksdb.estimate-num-keys", &n)) keys += n;
  }
  out += ",\"keys\":" + std::to_string(keys);
  return out;
}

void requirePositional(const Args& args, std::size_t n) {
  if (args.positional.size() != n)
    usage(args.command + " takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
          std::to_string(args.positional.size()));
}

void requireNoValueSize(const Args& args) {
  if (args.valueSize) usage("--value-size is for scan-blocks only");
}

void requirePrefixForExpect(const Args& args) {
  if (args.expectBlock && !args.blockPrefix) usage("--expect-block needs --block-prefix");
}

int inspectCommand(const Args& args) {
  requirePositional(args, 1);
  requireNoValueSize(args);
  requirePrefixForExpect(args);
  Database database;
  openReadOnly(database, args.positional[0]);
  std::cout << inspectFields(database, args) << "}" << std::endl;
  return 0;
}

// ---------------------------------------------------------------------------------------
// verify

std::set<std::string> tableFilesInFolder(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0) names.insert(name);
  }
  return names;
}

// Which live file fails its checksums, when the whole-database status does not say.
std::optional<std::string> firstCorruptFile(const Database& database, const std::vector<rocksdb::LiveFileMetaData>& files,
                                            std::string* status) {
  for (const auto& f : files) {
    rocksdb::SstFileReader reader(baseOptions());
    const std::string path = (fs::path(database.dir) / f.relative_filename).string();
    rocksdb::Status s = reader.Open(path);
    if (s.ok()) s = reader.VerifyChecksum();
    if (!s.ok()) {
      *status = s.ToString();
      return f.relative_filename;
    }
  }
  return std::nullopt;
}

int verifyCommand(const Args& args) {
  requirePositional(args, 1);
  requireNoValueSize(args);
  requirePrefixForExpect(args);
  Database database;
  const std::string& dir = args.positional[0];
  // Point-in-time recovery (inspect's mode) silently stops at a damaged WAL record and so
  // hides every later write; verify accepts only a torn last record, which a copy taken
  // mid-write legitimately has.
  const rocksdb::Status s = tryOpenReadOnly(database, dir, rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords);
  if (!s.ok()) {
    Database lenient;
    if (!tryOpenReadOnly(lenient, dir, rocksdb::WALRecoveryMode::kPointInTimeRecovery).ok())
      fail(explainOpenFailure(dir, s, "read-only"));
    // RocksDB does not say which WAL: name the ones there are.
    std::string logs;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".log") logs += (logs.empty() ? "" : ", ") + entry.path().filename().string();
    fail("a write-ahead log of " + dir + " is damaged before its end (WAL files: " + logs + "): " + s.ToString());
  }
  const std::string fields = inspectFields(database, args);

  const auto files = liveFiles(database);
  std::set<std::string> live;
  for (const auto& f : files) {
    live.insert(f.relative_filename);
    if (!fs::exists(fs::path(dir) / f.relative_filename))
      fail(dir + ": " + f.relative_filename + " is listed in the MANIFEST but missing from the folder");
  }
  for (const auto& name : tableFilesInFolder(dir))
    if (!live.count(name)) fail(name + " is in the folder but not in the MANIFEST of " + dir);

  const rocksdb::Status checked = database.db->VerifyChecksum();
  if (!checked.ok()) {
    const std::string text = checked.ToString();
    for (const auto& name : live)
      if (text.find(name) != std::string::npos) fail("checksum verification failed for " + dir + "/" + name + ": " + text);
    std::string fileStatus;
    if (const auto name = firstCorruptFile(database, files, &fileStatus))
      fail("checksum verification failed for " + dir + "/" + *name + ": " + fileStatus);
    fail("checksum verification failed for " + dir + ": " + text);
  }
  std::cout << fields << ",\"checkedFiles\":" << files.size() << "}" << std::endl;
  return 0;
}

// ---------------------------------------------------------------------------------------
// checkpoint, get, scan-blocks

int checkpointCommand(const Args& args) {
  requirePositional(args, 2);
  requireNoValueSize(args);
  requirePrefixForExpect(args);
  const std::string& dir = args.positional[0];
  const std::string& outDir = args.positional[1];
  if (fs::exists(outDir)) fail("cannot make a checkpoint of " + dir + " in " + outDir + ": it already exists");
  {
    Database database;
    openReadWrite(database, dir);
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status s = rocksdb::Checkpoint::Create(database.db, &raw);
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    if (s.ok()) s = checkpoint->CreateCheckpoint(outDir);
    if (!s.ok()) fail("cannot make a checkpoint of " + dir + " in " + outDir + ": " + s.ToString());
  }
  Database result;
  openReadOnly(result, outDir);
  std::cout << inspectFields(result, args) << ",\"path\":" << jsonString(outDir) << "}" << std::endl;
  return 0;
}

int getCommand(const Args& args) {
  requirePositional(args, 2);
  requireNoValueSize(args);
  if (args.blockPrefix || args.expectBlock) usage("get takes only --column-family");
  Database database;
  openReadOnly(database, args.positional[0]);
  std::string value;
  const rocksdb::Status s =
      database.db->Get(rocksdb::ReadOptions(), database.family(args.columnFamily), args.positional[1], &value);
  if (s.IsNotFound()) {
    std::cout << "{\"value\":null}" << std::endl;
    return 0;
  }
  if (!s.ok()) fail("cannot read key " + keyJson(args.positional[1]) + " from " + database.dir + ": " + s.ToString());
  std::cout << "{\"value\":\"" << base64(value) << "\"}" << std::endl;
  return 0;
}

int scanBlocksCommand(const Args& args) {
  requirePositional(args, 1);
  if (!args.blockPrefix) usage("scan-blocks needs --block-prefix");
  Database database;
  openReadOnly(database, args.positional[0]);
  const std::string& prefix = *args.blockPrefix;
  const std::size_t valueSize = args.valueSize.value_or(chainvault::kDefaultValueSize);

  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(database.db->NewIterator(ro, database.family(args.columnFamily)));
  std::optional<std::uint64_t> first, last, firstGap;
  std::uint64_t count = 0, badValues = 0, otherKeys = 0;
  bool contiguous = true;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const auto n = parseDecimal(it->key().ToString().substr(prefix.size()));
    if (!n) {
      ++otherKeys;
      continue;
    }
    if (!first) first = n;
    if (last && *n != *last + 1 && contiguous) {
      contiguous = false;
      firstGap = *last + 1;
    }
    last = n;
    ++count;
    const rocksdb::Slice value = it->value();
    if (value.size() != valueSize || value.ToString() != chainvault::blockValue(*n, valueSize)) ++badValues;
  }
  if (!it->status().ok()) fail("cannot read " + database.dir + ": " + it->status().ToString());
  checkExpectedBlock(database.dir, args, last);
  std::cout << "{\"first\":" << numberOrNull(first) << ",\"last\":" << numberOrNull(last) << ",\"count\":" << count
            << ",\"contiguous\":" << (contiguous ? "true" : "false") << ",\"firstGap\":" << numberOrNull(firstGap)
            << ",\"badValues\":" << badValues << ",\"otherKeys\":" << otherKeys << "}" << std::endl;
  return 0;
}

int run(int argc, char** argv) {
  const Args args = parseArgs(argc, argv);
  if (args.command == "inspect") return inspectCommand(args);
  if (args.command == "verify") return verifyCommand(args);
  if (args.command == "checkpoint") return checkpointCommand(args);
  if (args.command == "get") return getCommand(args);
  if (args.command == "scan-blocks") return scanBlocksCommand(args);
  if (args.command == "--help" || args.command == "help") {
    std::cout << kUsage;
    return 0;
  }
  usage("unknown command '" + args.command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Failure& f) {
    std::string message = f.message;
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "chainvault-rocksdb: " << message << "\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "chainvault-rocksdb: " << e.what() << "\n";
    return kExitFailure;
  }
}
