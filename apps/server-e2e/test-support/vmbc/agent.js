#!/usr/bin/env node
// agent.js: a TEST STAND-IN for the VMware Blockchain node agent (the `agent` container,
// "java -jar node-agent", port 8546). The real agent is proprietary and cannot run here; this
// small process plays its HTTP API as the intermittent-backup procedure uses it
// (shared/seeds/001_11435fedc7e2cf99.txt). Nothing here is VMware code. One agent per "machine".
//
//   node agent.js --config FILE
//
// FILE (JSON): {
//   port, role: "replica"|"client", pidFile,
//   startArgv: [...]        the node process. For a replica: replica-standin with --db, --status-file
//                           and --control-file (the agent appends --pid-file <pidFile>); for a client any
//                           long-running argv (the agent writes its pid file itself).
//   statusFile?, dataDirectory?   (replica) the replica's status file and RocksDB directory
//   logFile?                the node's stdout/stderr (default <pidFile>.log)
//   faultFile?              JSON re-read on every request (below)
// }
// HTTP on 127.0.0.1:port, JSON answers:
//   POST /api/node/management?action=stop   SIGTERM, wait for the exit (<= 30 s) -> 200 {"status":"stopped"}
//                                           (500 {"status":"running","error"} if it did not exit)
//   POST /api/node/management?action=start  start detached (own session) unless running, wait for the pid
//                                           file -> 200 {"status":"running"} (500 {"error"} if it died)
//   GET  /api/node/status   {"running","pid","lastBlock","wedged","stateTransfer"}: lastBlock is the
//                           replica's status file (last known, also when stopped; null for clients);
//                           wedged and stateTransfer come from that file and are false when not running.
//                           stateTransfer = the replica is in its start delay or catching up after it.
//   POST /api/backup?action=schedule  body {backup_destination, schedule_frequency?, rsync_user_name?,
//                           backup_time_zone?} -> {"status":"scheduled"} (kept in memory; GET /api/backup shows it)
//   POST /api/backup?action=run_now   rsync -a --delete <dataDirectory>/ <dest>/ -> {"status":"done",
//                           "bytes": total size of the data, "transferredBytes": bytes rsync copied}.
//                           backup_destination "host:/dir" goes over SSH as [rsync_user_name@]host:/dir;
//                           without a "host:" part it is a local directory (created if missing).
//                           Replicas only (400 on a client); 500 {"error"} if rsync fails.
// Faults (faultFile): {"hangStop": true}   a stop request is never answered (socket left open) and
//                                          the node keeps running;
//                     {"refuse": true}     every request answers 503;
//                     {"startDelayMs": MS} a replica started from now on gets --start-delay-ms MS
//                                          (it comes up lagging: "state transfer").
// The agent writes its own pid to <pidFile>.agent; SIGTERM ends the agent, never the node.
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const { spawn, execFile } = require('node:child_process');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

const configIndex = process.argv.indexOf('--config');
if (configIndex < 0 || !process.argv[configIndex + 1]) {
  process.stderr.write('usage: node agent.js --config FILE\n');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(process.argv[configIndex + 1], 'utf8'));
const isReplica = config.role === 'replica';
const logFile = config.logFile || `${config.pidFile}.log`;
let schedule = null;

function nodePid() {
  let pid;
  try {
    pid = Number(fs.readFileSync(config.pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function nodeStatus() {
  const pid = nodePid();
  const status = isReplica && config.statusFile ? readJson(config.statusFile, null) : null;
  return {
    running: pid !== null,
    pid,
    lastBlock: status && typeof status.lastBlock === 'number' ? status.lastBlock : null,
    wedged: pid !== null && !!status && status.wedged === true,
    stateTransfer: pid !== null && !!status && status.stateTransfer === true,
  };
}

async function stopNode() {
  const pid = nodePid();
  if (pid === null) return { code: 200, body: { status: 'stopped' } };
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (nodePid() === null) {
      if (!isReplica) fs.rmSync(config.pidFile, { force: true });
      return { code: 200, body: { status: 'stopped' } };
    }
    await sleep(50);
  }
  return { code: 500, body: { status: 'running', error: `node process ${pid} did not exit within 30 s` } };
}

async function startNode(faults) {
  if (nodePid() !== null) return { code: 200, body: { status: 'running' } };
  fs.rmSync(config.pidFile, { force: true });
  const argv = [...config.startArgv];
  if (isReplica) argv.push('--pid-file', config.pidFile);
  if (isReplica && faults.startDelayMs) argv.push('--start-delay-ms', String(faults.startDelayMs));
  const log = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited = null;
  child.on('error', (error) => (exited = error.message));
  child.on('exit', (code, signal) => (exited = `exited with ${signal || code}`));
  child.unref();
  if (!isReplica && child.pid) fs.writeFileSync(config.pidFile, `${child.pid}\n`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && exited === null) {
    if (nodePid() !== null) return { code: 200, body: { status: 'running' } };
    await sleep(50);
  }
  const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
  return { code: 500, body: { error: `node did not start (${exited || 'no pid file within 30 s'}): ${tail}` } };
}

function runBackup(body) {
  return new Promise((resolve) => {
    const destination = String(body.backup_destination || '');
    if (!destination) return resolve({ code: 400, body: { error: 'backup_destination is required' } });
    const remote = /^[^/:]+:/.test(destination);
    let target = destination;
    if (remote && body.rsync_user_name && !destination.includes('@')) target = `${body.rsync_user_name}@${destination}`;
    if (!remote) fs.mkdirSync(destination, { recursive: true });
    const args = ['-a', '--delete', '--stats', `${config.dataDirectory.replace(/\/+$/, '')}/`, `${target.replace(/\/+$/, '')}/`];
    if (remote) args.unshift('-e', 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new');
    execFile('rsync', args, { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) return resolve({ code: 500, body: { error: `rsync failed: ${stderr || error.message}` } });
      const number = (label) => Number((stdout.match(new RegExp(`^${label}: ([\\d,.]+)`, 'm')) || [, '0'])[1].replace(/[,.]/g, ''));
      resolve({ code: 200, body: { status: 'done', bytes: number('Total file size'), transferredBytes: number('Total transferred file size') } });
    });
  });
}

async function handle(req, url, body) {
  const faults = config.faultFile ? readJson(config.faultFile, {}) : {};
  if (faults.refuse) return { code: 503, body: { error: 'agent refuses requests (fault)' } };
  const action = url.searchParams.get('action');
  if (url.pathname === '/api/node/status' && req.method === 'GET') return { code: 200, body: nodeStatus() };
  if (url.pathname === '/api/node/management' && req.method === 'POST') {
    if (action === 'stop') return faults.hangStop ? null : stopNode();
    if (action === 'start') return startNode(faults);
  }
  if (url.pathname === '/api/backup' && req.method === 'GET') return { code: 200, body: { schedule } };
  if (url.pathname === '/api/backup' && req.method === 'POST' && (action === 'schedule' || action === 'run_now')) {
    if (!isReplica) return { code: 400, body: { error: 'backups apply to replica nodes only' } };
    let parsed;
    try {
      parsed = JSON.parse(body || '{}');
    } catch {
      return { code: 400, body: { error: 'the body is not JSON' } };
    }
    if (action === 'run_now') return runBackup(parsed);
    schedule = parsed;
    return { code: 200, body: { status: 'scheduled' } };
  }
  return { code: 404, body: { error: `no such endpoint: ${req.method} ${url.pathname}${url.search}` } };
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', async () => {
    let answer;
    try {
      answer = await handle(req, new URL(req.url, 'http://agent'), body);
    } catch (error) {
      answer = { code: 500, body: { error: String(error && error.message) } };
    }
    if (answer === null) return; // hangStop: the caller waits for ever
    res.writeHead(answer.code, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(answer.body)}\n`);
  });
});

server.listen(config.port, '127.0.0.1', () => {
  fs.writeFileSync(`${config.pidFile}.agent`, `${process.pid}\n`);
});
process.on('SIGTERM', () => {
  fs.rmSync(`${config.pidFile}.agent`, { force: true });
  process.exit(0);
});
