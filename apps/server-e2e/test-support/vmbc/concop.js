#!/usr/bin/env node
// concop.js: a TEST STAND-IN for VMware Blockchain's operator tool `concop` (run in the operator
// container as `./concop wedge stop` etc.). The real tool is proprietary and cannot run here; this
// one plays the commands and outputs of the intermittent-backup procedure
// (shared/seeds/001_11435fedc7e2cf99.txt) against replica-standin processes, through their
// control and status files. Nothing here is VMware code.
//
//   node concop.js --network FILE wedge stop | wedge status | unwedge
//
// FILE (JSON): {"replicas": [{name, address, controlFile, statusFile}], "faultFile"?: path}
//   wedge stop    wedge point = the next multiple of 150 at least 150 blocks beyond the highest
//                 lastBlock in the replicas' status files (kept if every control file already holds
//                 the same point and no replica is past it), written as {"wedgeAt": N} to every control
//                 file; returns after 1-2 s ("wedging takes some time"); prints {"succ":true}
//   wedge status  {"<address>":bool,...}: true when the replica's status file is fresh (< 2 s old,
//                 i.e. it runs), not in state transfer, wedged, and at exactly its control file's point
//   unwedge       writes {"wedgeAt": null} to every control file; prints {'succ': True}
//   else          usage on stderr, exit 2
// Faults (faultFile, JSON): {"wedgeStopTimeouts": K}  the next K `wedge stop` calls hang for 10 min
//                           (the caller's timeout kills them), K is decremented first;
//                           {"wedgeNeverCompletes": ["<address>", ...]}  those replicas stay false;
//                           {"wedgePointOffsets": {"<address>": -N}}  that replica is told to stop N blocks
//                           early and still reports wedged (a replica that lags, seen only in its block ids).
'use strict';

const fs = require('node:fs');

const WINDOW = 150;
const STALE_MS = 2000;

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

function writeJson(file, value) {
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(value)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

function usage(problem) {
  process.stderr.write(`concop: ${problem}\nusage: concop --network FILE (wedge stop | wedge status | unwedge)\n`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const args = process.argv.slice(2);
  if (args[0] !== '--network' || !args[1]) usage('--network FILE is required');
  const network = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const command = args.slice(2).join(' ');
  const faults = network.faultFile ? readJson(network.faultFile, {}) : {};
  const replicas = network.replicas;

  if (command === 'wedge stop') {
    if (faults.wedgeStopTimeouts > 0) {
      writeJson(network.faultFile, { ...faults, wedgeStopTimeouts: faults.wedgeStopTimeouts - 1 });
      await sleep(600_000);
      return;
    }
    const highest = Math.max(-1, ...replicas.map((r) => (readJson(r.statusFile, {}) || {}).lastBlock).filter((b) => typeof b === 'number'));
    const current = replicas.map((r) => (readJson(r.controlFile, {}) || {}).wedgeAt);
    let wedgeAt = Math.ceil((highest + WINDOW) / WINDOW) * WINDOW;
    if (!faults.wedgePointOffsets && typeof current[0] === 'number' && current.every((w) => w === current[0]) && current[0] >= highest) wedgeAt = current[0];
    // A replica that misbehaves stops elsewhere yet reports wedged (fault wedgePointOffsets): the lag shows only in its block ids.
    const offsets = faults.wedgePointOffsets || {};
    for (const r of replicas) writeJson(r.controlFile, { wedgeAt: wedgeAt + (offsets[r.address] || 0) });
    await sleep(1000 + Math.random() * 1000);
    process.stdout.write('{"succ":true}\n');
  } else if (command === 'wedge status') {
    const never = faults.wedgeNeverCompletes || [];
    const answer = {};
    for (const r of replicas) {
      const wedgeAt = (readJson(r.controlFile, {}) || {}).wedgeAt;
      let fresh = false;
      try {
        fresh = Date.now() - fs.statSync(r.statusFile).mtimeMs < STALE_MS;
      } catch {}
      const s = readJson(r.statusFile, null);
      answer[r.address] =
        fresh && !!s && !never.includes(r.address) && typeof wedgeAt === 'number' && s.wedged === true && !s.stateTransfer && s.wedgeAt === wedgeAt && s.lastBlock === wedgeAt;
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  } else if (command === 'unwedge') {
    for (const r of replicas) writeJson(r.controlFile, { wedgeAt: null });
    process.stdout.write("{'succ': True}\n");
  } else {
    usage(`unknown command '${command}'`);
  }
}

main().catch((error) => {
  process.stderr.write(`concop: ${error.message}\n`);
  process.exit(1);
});
