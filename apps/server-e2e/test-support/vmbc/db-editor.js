#!/usr/bin/env node
// db-editor.js: a TEST STAND-IN for Concord's `kv_blockchain_db_editor` (run in the concord-core
// image as `/concord/kv_blockchain_db_editor /concord/rocksdbdata getLastBlockID`). The real tool
// is proprietary to the Concord image and cannot run here; this one reads the REAL RocksDB
// directory that replica-standin writes, through the rocksdb plugin's native tool, and prints
// what concord-bft's editor prints (shared/fixtures/README.md §4). Nothing here is Concord code.
//
//   node db-editor.js PATH-TO-DB COMMAND
//   getLastBlockID           {"lastBlockID": "<greatest block key>"}
//   getLastReachableBlockID  {"lastReachableBlockID": "<end of the contiguous run from the first block>"}
//   getGenesisBlockID        {"genesisBlockID": "<first block>"}
// An empty database answers "0". Output: JSON with two-space indent and string values, then "\n".
// Errors: "Failed to execute command [<cmd>], reason: <what>" on stderr, exit 1; a missing path
// says "RocksDB directory path doesn't exist at <path>". Bad usage: usage on stderr, exit 1.
// The native tool: $CHAINVAULT_ROCKSDB_TOOL, else @chainvault/plugin-rocksdb's dist/native/chainvault-rocksdb.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const USAGE = 'Usage: kv_blockchain_db_editor PATH-TO-DB COMMAND [ARGUMENTS]...\n' +
  'Supported commands: getLastBlockID getLastReachableBlockID getGenesisBlockID\n';
const COMMANDS = ['getLastBlockID', 'getLastReachableBlockID', 'getGenesisBlockID'];

const [dbPath, command] = process.argv.slice(2);
if (!dbPath || !COMMANDS.includes(command)) {
  process.stderr.write(USAGE);
  process.exit(1);
}

function fail(reason) {
  process.stderr.write(`Failed to execute command [${command}], reason: ${reason}\n`);
  process.exit(1);
}

function nativeTool() {
  if (process.env.CHAINVAULT_ROCKSDB_TOOL) return process.env.CHAINVAULT_ROCKSDB_TOOL;
  return path.join(path.dirname(require.resolve('@chainvault/plugin-rocksdb/package.json')), 'dist', 'native', 'chainvault-rocksdb');
}

function tool(args) {
  try {
    return JSON.parse(execFileSync(nativeTool(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 }));
  } catch (error) {
    fail(String(error.stderr || error.message).trim());
  }
}

if (!fs.existsSync(dbPath) || !fs.statSync(dbPath).isDirectory()) fail(`RocksDB directory path doesn't exist at ${dbPath}`);

let key;
let value;
if (command === 'getLastBlockID') {
  key = 'lastBlockID';
  value = tool(['inspect', dbPath, '--block-prefix', 'block/']).lastBlock ?? 0;
} else {
  const scan = tool(['scan-blocks', dbPath, '--block-prefix', 'block/']);
  if (command === 'getGenesisBlockID') {
    key = 'genesisBlockID';
    value = scan.first ?? 0;
  } else {
    key = 'lastReachableBlockID';
    value = scan.count === 0 ? 0 : scan.firstGap !== null ? scan.firstGap - 1 : scan.last;
  }
}
process.stdout.write(`{\n  "${key}": "${value}"\n}\n`);
