// replica-standin: a TEST STAND-IN for the storage of a VMware Concord (concord-bft) replica.
// Concord itself cannot run here, so chainvault's RocksDB tests use this process instead: it
// holds a RocksDB database open read-write (and so its LOCK) and keeps writing blocks, the
// way a live replica does while a backup runs. Nothing here is Concord code; the behaviour
// follows the seed text shared/seeds/002_bf06f0f1d04c2fee.txt (VMware Blockchain's
// checkpoint-based backup and its knobs) and shared/fixtures/README.md §4 (Concord's
// checkpoint layout: <db_checkpoint_path>/<last block id>, made by RocksDB's Checkpoint API).
//
// Blocks: key "block/" + 12-digit number, value chainvault::blockValue (block-value.h), one
// WriteBatch per block that also sets "meta/lastBlockId". A restart resumes after the last
// block in the database. SIGUSR1: a checkpoint now (see below). SIGTERM/SIGINT: stop writing, close the database, remove the pid
// file, exit 0. stdout: one JSON line per event.
//
// Concord's checkpoint knobs and the flags that play them:
//   db_checkpoint_path                 --checkpoint-path DIR (enables checkpoints)
//   db_checkpoint_duration             --checkpoint-interval-seconds S (fractions allowed)
//   dbcheckpoint_window                --checkpoint-window N (blocks since the last checkpoint)
//   num_of_rocksdbcheckpoints          --checkpoints-to-keep K
//   db_checkpoint_diskspace_threshold  --diskspace-threshold F (skip when free < F x db size)
//
// Wedge and state transfer, for the VMware Blockchain intermittent-backup stand-ins
// (apps/server-e2e/test-support/vmbc/, seed shared/seeds/001_11435fedc7e2cf99.txt):
//   --control-file F    JSON that the operator stand-in (concop.js) writes. The replica re-reads it
//                       at most every 50 ms and acts when it changed. {"wedgeAt": N}: write up to and
//                       including block N, then stop writing (still running, database open): wedged.
//                       {"wedgeAt": null}, {} or no file: write normally (this also unwedges). A
//                       replica already past N stops at once and stays beyond N (never wedged "at" N).
//   --start-delay-ms MS after opening, write nothing for MS ("state transfer"); then, while a wedge
//                       point is set and not reached, write without the rate limit (catching up), and
//                       then carry on normally.
// The status file: {"lastBlock":N|null,"writing":bool,"wedged":bool,"wedgeAt":N|null,
// "stateTransfer":bool}; stateTransfer is true during the start delay and the catch-up after it.

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "block-value.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kExitFailure = 2;
constexpr int kExitUsage = 64;

const char* const kUsage =
    "usage: replica-standin --db DIR [--pid-file F] [--status-file F] [--blocks-per-second N (200; 0 = no limit)]\n"
    "         [--stop-after-blocks N] [--value-size BYTES (1024)] [--write-buffer-size BYTES (1 MiB)]\n"
    "         [--target-file-size BYTES (2 MiB)] [--checkpoint-path DIR [--checkpoint-interval-seconds S (21600)]\n"
    "         [--checkpoint-window N (30000)] [--checkpoints-to-keep K (2)] [--diskspace-threshold F (0.5)]]\n"
    "         [--control-file F (JSON {\"wedgeAt\": N|null}: stop writing after block N = wedged)]\n"
    "         [--start-delay-ms MS (write nothing for MS after opening = state transfer, then catch up\n"
    "          to a set wedge point without the rate limit)]\n";

volatile std::sig_atomic_t stopRequested = 0;
volatile std::sig_atomic_t checkpointRequested = 0;

void onStopSignal(int) { stopRequested = 1; }
// SIGUSR1 stands in for the operator's `concop dbCheckpoint create`: a checkpoint at the next
// block, whatever the interval and the window (the disk threshold still applies).
void onCheckpointSignal(int) { checkpointRequested = 1; }

struct Config {
  std::string db;
  std::optional<std::string> pidFile;
  std::optional<std::string> statusFile;
  double blocksPerSecond = 200;
  std::optional<std::uint64_t> stopAfterBlock;
  std::size_t valueSize = chainvault::kDefaultValueSize;
  std::uint64_t writeBufferSize = 1 << 20;
  std::uint64_t targetFileSize = 2 << 20;
  std::optional<std::string> checkpointPath;
  double checkpointIntervalSeconds = 21600;
  std::uint64_t checkpointWindow = 30000;
  std::uint64_t checkpointsToKeep = 2;
  double diskspaceThreshold = 0.5;
  std::optional<std::string> controlFile;
  std::uint64_t startDelayMs = 0;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "replica-standin: " << problem << " (replica-standin --help shows the usage)\n";
  std::exit(kExitUsage);
}

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "replica-standin: " << message << "\n";
  std::exit(kExitFailure);
}

std::uint64_t parseCount(const std::string& flag, const std::string& value) {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 19)
    usage(flag + " takes a whole number, not '" + value + "'");
  return std::stoull(value);
}

double parseReal(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v >= 0)) usage(flag + " takes a number >= 0, not '" + value + "'");
  return v;
}

Config parseArgs(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    const auto eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      if (i + 1 >= argc) usage(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument " + flag);
      value = argv[++i];
    }
    if (flag == "--db") c.db = value;
    else if (flag == "--pid-file") c.pidFile = value;
    else if (flag == "--status-file") c.statusFile = value;
    else if (flag == "--blocks-per-second") c.blocksPerSecond = parseReal(flag, value);
    else if (flag == "--stop-after-blocks") c.stopAfterBlock = parseCount(flag, value);
    else if (flag == "--value-size") c.valueSize = parseCount(flag, value);
    else if (flag == "--write-buffer-size") c.writeBufferSize = parseCount(flag, value);
    else if (flag == "--target-file-size") c.targetFileSize = parseCount(flag, value);
    else if (flag == "--checkpoint-path") c.checkpointPath = value;
    else if (flag == "--checkpoint-interval-seconds") c.checkpointIntervalSeconds = parseReal(flag, value);
    else if (flag == "--checkpoint-window") c.checkpointWindow = parseCount(flag, value);
    else if (flag == "--checkpoints-to-keep") c.checkpointsToKeep = parseCount(flag, value);
    else if (flag == "--diskspace-threshold") c.diskspaceThreshold = parseReal(flag, value);
    else if (flag == "--control-file") c.controlFile = value;
    else if (flag == "--start-delay-ms") c.startDelayMs = parseCount(flag, value);
    else usage("unknown option " + flag);
  }
  if (c.db.empty()) usage("--db is required");
  if (c.valueSize == 0 || c.valueSize > (64u << 20)) usage("--value-size must be 1 .. 64 MiB");
  if (c.writeBufferSize < 64 * 1024) usage("--write-buffer-size must be at least 64 KiB");
  if (c.targetFileSize < 64 * 1024) usage("--target-file-size must be at least 64 KiB");
  if (c.checkpointsToKeep == 0) usage("--checkpoints-to-keep must be at least 1");
  return c;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

void emit(const std::string& json) {
  std::fputs((json + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// Written whole under a temporary name and renamed, so a reader never sees half a file.
void writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out) fail("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

bool isBlockId(const std::string& name) {
  return !name.empty() && name.size() <= 19 && name.find_first_not_of("0123456789") == std::string::npos;
}

// Checkpoint ids found under the checkpoint path, oldest first.
std::vector<std::uint64_t> existingCheckpoints(const std::string& path) {
  std::vector<std::uint64_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && isBlockId(name)) ids.push_back(std::stoull(name));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::uint64_t folderBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code sizeEc;
    if (entry.is_regular_file(sizeEc)) {
      const auto size = entry.file_size(sizeEc);
      if (!sizeEc) total += size;
    }
  }
  return total;
}

class Replica {
 public:
  explicit Replica(Config config) : config_(std::move(config)) {}

  ~Replica() { closeDb(); }

  int run() {
    open();
    if (config_.pidFile) writeFileAtomically(*config_.pidFile, std::to_string(getpid()) + "\n");
    if (config_.checkpointPath) prepareCheckpointPath();
    emit("{\"event\":\"started\",\"pid\":" + std::to_string(getpid()) + ",\"db\":" + jsonString(config_.db) +
         ",\"nextBlock\":" + std::to_string(nextBlock()) + "}");

    writeFrom_ = Clock::now() + std::chrono::milliseconds(config_.startDelayMs);
    catchingUp_ = config_.startDelayMs > 0;
    lastCheckpointAttempt_ = Clock::now();
    std::optional<Phase> previous;
    while (!stopRequested) {
      auto now = Clock::now();
      pollControlFile(now);
      const Phase current = phase(now);
      if (current == Phase::kWriting || current == Phase::kWedged) catchingUp_ = false;
      if (current != previous) {
        enterPhase(current, now);
        previous = current;
      }
      if (current == Phase::kCatchingUp) {
        writeBlock(nextBlock());
      } else if (current == Phase::kWriting) {
        const auto due = paceStart_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                          config_.blocksPerSecond > 0 ? paced_ / config_.blocksPerSecond : 0.0));
        if (now < due) {
          std::this_thread::sleep_for(std::min<Clock::duration>(due - now, std::chrono::milliseconds(20)));
        } else {
          writeBlock(nextBlock());
          ++paced_;
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      now = Clock::now();
      if (now - lastStatus_ >= std::chrono::milliseconds(100)) writeStatus(current);
      if (config_.checkpointPath) {
        const bool forced = checkpointRequested != 0;
        checkpointRequested = 0;
        maybeCheckpoint(now, forced);
      }
    }

    const Phase last = phase(Clock::now());
    writeStatus(last == Phase::kWedged ? last : Phase::kStopped);
    closeDb();
    if (config_.pidFile) {
      std::error_code ec;
      fs::remove(*config_.pidFile, ec);
    }
    emit("{\"event\":\"stopped\",\"lastBlock\":" + (lastBlock_ ? std::to_string(*lastBlock_) : "null") + "}");
    return 0;
  }

 private:
  void open() {
    std::error_code ec;
    fs::create_directories(config_.db, ec);
    if (ec) fail("cannot create " + config_.db + ": " + ec.message());
    rocksdb::Options options;
    options.create_if_missing = true;
    // Small memtables and table files, so flushes and compactions happen while a backup runs.
    options.write_buffer_size = config_.writeBufferSize;
    options.target_file_size_base = config_.targetFileSize;
    options.max_bytes_for_level_base = 4 * config_.targetFileSize;
    options.max_background_jobs = 2;
    options.keep_log_file_num = 3;
    const rocksdb::Status s = rocksdb::DB::Open(options, config_.db, &db_);
    if (!s.ok()) {
      const bool locked = s.IsIOError() && s.ToString().find("lock") != std::string::npos;
      fail("cannot open " + config_.db + (locked ? " (another process holds it open)" : "") + ": " + s.ToString());
    }
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    const std::string prefix = chainvault::kBlockPrefix;
    it->SeekForPrev(prefix + std::string(8, '\xff'));
    if (it->Valid() && it->key().starts_with(prefix)) {
      const std::string digits = it->key().ToString().substr(prefix.size());
      if (isBlockId(digits)) lastBlock_ = std::stoull(digits);
    }
    if (!it->status().ok()) fail("cannot read " + config_.db + ": " + it->status().ToString());
  }

  void closeDb() {
    if (!db_) return;
    const rocksdb::Status s = db_->Close();
    if (!s.ok()) std::cerr << "replica-standin: closing " << config_.db << ": " << s.ToString() << "\n";
    delete db_;
    db_ = nullptr;
  }

  std::uint64_t nextBlock() const { return lastBlock_ ? *lastBlock_ + 1 : 0; }

  void writeBlock(std::uint64_t block) {
    rocksdb::WriteBatch batch;
    batch.Put(chainvault::blockKey(block), chainvault::blockValue(block, config_.valueSize));
    batch.Put(chainvault::kLastBlockKey, std::to_string(block));
    const rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) fail("cannot write block " + std::to_string(block) + " to " + config_.db + ": " + s.ToString());
    lastBlock_ = block;
  }

  // kStarting: the start delay; kCatchingUp: after it, towards a wedge point without the rate
  // limit (both "state transfer"); kStopped: --stop-after-blocks reached.
  enum class Phase { kStarting, kCatchingUp, kWriting, kWedged, kStopped };

  Phase phase(Clock::time_point now) const {
    if (now < writeFrom_) return Phase::kStarting;
    if (config_.stopAfterBlock && lastBlock_ && *lastBlock_ >= *config_.stopAfterBlock) return Phase::kStopped;
    if (wedgeAt_ && lastBlock_ && *lastBlock_ >= *wedgeAt_) return Phase::kWedged;
    if (catchingUp_ && wedgeAt_) return Phase::kCatchingUp;
    return Phase::kWriting;
  }

  static bool inStateTransfer(Phase p) { return p == Phase::kStarting || p == Phase::kCatchingUp; }

  void enterPhase(Phase p, Clock::time_point now) {
    const std::string last = lastBlock_ ? std::to_string(*lastBlock_) : "null";
    switch (p) {
      case Phase::kStarting: emit("{\"event\":\"state-transfer\",\"lastBlock\":" + last + "}"); break;
      case Phase::kCatchingUp: emit("{\"event\":\"catching-up\",\"lastBlock\":" + last + ",\"wedgeAt\":" + std::to_string(*wedgeAt_) + "}"); break;
      case Phase::kWedged: emit("{\"event\":\"wedged\",\"lastBlock\":" + last + ",\"wedgeAt\":" + std::to_string(*wedgeAt_) + "}"); break;
      case Phase::kStopped: emit("{\"event\":\"writing-stopped\",\"lastBlock\":" + last + "}"); break;
      case Phase::kWriting:
        // The rate counts from here, so a replica that paused does not burst to make up for it.
        paceStart_ = now;
        paced_ = 0;
        emit("{\"event\":\"writing\",\"lastBlock\":" + last + "}");
        break;
    }
    writeStatus(p);
  }

  // Re-read the control file at most every 50 ms; act only when its content changed.
  void pollControlFile(Clock::time_point now) {
    if (!config_.controlFile || now - lastControlPoll_ < std::chrono::milliseconds(50)) return;
    lastControlPoll_ = now;
    std::string content;
    {
      std::ifstream in(*config_.controlFile);
      if (in) content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (content == controlContent_) return;
    controlContent_ = content;
    std::optional<std::uint64_t> wedgeAt;
    const auto key = content.find("\"wedgeAt\"");
    if (key != std::string::npos) {
      auto at = content.find_first_not_of(" \t\r\n", key + 9);
      if (at != std::string::npos && content[at] == ':') at = content.find_first_not_of(" \t\r\n", at + 1);
      if (at != std::string::npos && content.compare(at, 4, "null") == 0) {
        wedgeAt = std::nullopt;
      } else if (at != std::string::npos && std::isdigit(static_cast<unsigned char>(content[at]))) {
        wedgeAt = std::stoull(content.substr(at, content.find_first_not_of("0123456789", at) - at));
      } else {
        // Half-written or not ours: keep what we had.
        emit("{\"event\":\"control-file-invalid\",\"content\":" + jsonString(content) + "}");
        return;
      }
    }
    if (wedgeAt != wedgeAt_)
      emit("{\"event\":\"control\",\"wedgeAt\":" + (wedgeAt ? std::to_string(*wedgeAt) : "null") + "}");
    wedgeAt_ = wedgeAt;
  }

  void writeStatus(Phase p) {
    lastStatus_ = Clock::now();
    if (!config_.statusFile) return;
    const bool writing = p == Phase::kWriting || p == Phase::kCatchingUp;
    writeFileAtomically(*config_.statusFile,
                        "{\"lastBlock\":" + (lastBlock_ ? std::to_string(*lastBlock_) : "null") +
                            ",\"writing\":" + (writing ? "true" : "false") +
                            ",\"wedged\":" + (p == Phase::kWedged ? "true" : "false") +
                            ",\"wedgeAt\":" + (wedgeAt_ ? std::to_string(*wedgeAt_) : "null") +
                            ",\"stateTransfer\":" + (inStateTransfer(p) ? "true" : "false") + "}\n");
  }

  // Leftovers of a checkpoint a crash interrupted are not checkpoints: remove them.
  void prepareCheckpointPath() {
    std::error_code ec;
    fs::create_directories(*config_.checkpointPath, ec);
    if (ec) fail("cannot create " + *config_.checkpointPath + ": " + ec.message());
    for (const auto& entry : fs::directory_iterator(*config_.checkpointPath, ec))
      if (entry.path().filename().string().rfind(".tmp-", 0) == 0) fs::remove_all(entry.path(), ec);
    const auto ids = existingCheckpoints(*config_.checkpointPath);
    if (!ids.empty()) lastCheckpointBlock_ = ids.back();
  }

  void maybeCheckpoint(Clock::time_point now, bool forced) {
    if (!forced && now - lastCheckpointAttempt_ < std::chrono::duration<double>(config_.checkpointIntervalSeconds)) return;
    // Concord refuses an empty chain and waits for dbcheckpoint_window blocks since the last checkpoint.
    if (!lastBlock_) return;
    const std::uint64_t since = lastCheckpointBlock_ ? *lastBlock_ - *lastCheckpointBlock_ : *lastBlock_ + 1;
    if (since == 0 || (!forced && since < config_.checkpointWindow)) return;
    lastCheckpointAttempt_ = now;

    const std::string& path = *config_.checkpointPath;
    struct statvfs fsStats {};
    if (statvfs(path.c_str(), &fsStats) != 0) {
      emit("{\"event\":\"checkpoint-skipped\",\"reason\":" + jsonString("cannot stat " + path) + "}");
      return;
    }
    const double freeBytes = static_cast<double>(fsStats.f_bavail) * static_cast<double>(fsStats.f_frsize);
    const double dbBytes = static_cast<double>(folderBytes(config_.db));
    if (freeBytes < config_.diskspaceThreshold * dbBytes) {
      char reason[256];
      std::snprintf(reason, sizeof reason, "free space %.0f bytes on the checkpoint path is below %g x database size %.0f bytes",
                    freeBytes, config_.diskspaceThreshold, dbBytes);
      emit("{\"event\":\"checkpoint-skipped\",\"reason\":" + jsonString(reason) + "}");
      return;
    }

    const std::uint64_t id = *lastBlock_;
    const fs::path finalDir = fs::path(path) / std::to_string(id);
    const fs::path tmpDir = fs::path(path) / (".tmp-" + std::to_string(id));
    std::error_code ec;
    if (fs::exists(finalDir, ec)) {
      emit("{\"event\":\"checkpoint-skipped\",\"reason\":" + jsonString("checkpoint " + std::to_string(id) + " exists") + "}");
      lastCheckpointBlock_ = id;
      return;
    }
    fs::remove_all(tmpDir, ec);
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status s = rocksdb::Checkpoint::Create(db_, &raw);
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    if (s.ok()) s = checkpoint->CreateCheckpoint(tmpDir.string());
    if (!s.ok()) {
      fs::remove_all(tmpDir, ec);
      emit("{\"event\":\"checkpoint-skipped\",\"reason\":" + jsonString("checkpoint failed: " + s.ToString()) + "}");
      return;
    }
    fs::rename(tmpDir, finalDir, ec);
    if (ec) fail("cannot rename " + tmpDir.string() + " to " + finalDir.string() + ": " + ec.message());
    lastCheckpointBlock_ = id;
    emit("{\"event\":\"checkpoint\",\"id\":" + std::to_string(id) + ",\"path\":" + jsonString(finalDir.string()) + "}");

    auto ids = existingCheckpoints(path);
    while (ids.size() > config_.checkpointsToKeep) {
      fs::remove_all(fs::path(path) / std::to_string(ids.front()), ec);
      emit("{\"event\":\"checkpoint-removed\",\"id\":" + std::to_string(ids.front()) + "}");
      ids.erase(ids.begin());
    }
  }

  Config config_;
  rocksdb::DB* db_ = nullptr;
  std::optional<std::uint64_t> lastBlock_;
  std::optional<std::uint64_t> lastCheckpointBlock_;
  Clock::time_point lastCheckpointAttempt_{};
  Clock::time_point lastStatus_{};
  std::optional<std::uint64_t> wedgeAt_;
  std::string controlContent_;
  Clock::time_point lastControlPoll_{};
  Clock::time_point writeFrom_{};
  bool catchingUp_ = false;
  Clock::time_point paceStart_{};
  std::uint64_t paced_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Config config = parseArgs(argc, argv);
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  struct sigaction request {};
  request.sa_handler = onCheckpointSignal;
  sigemptyset(&request.sa_mask);
  sigaction(SIGUSR1, &request, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a reader that went away must not kill the writer mid-batch
  try {
    Replica replica(std::move(config));
    return replica.run();
  } catch (const std::exception& e) {
    std::cerr << "replica-standin: " << e.what() << "\n";
    return kExitFailure;
  }
}
