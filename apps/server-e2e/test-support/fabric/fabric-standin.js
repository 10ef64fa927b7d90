#!/usr/bin/env node
// fabric-standin.js: a TEST STAND-IN for a Hyperledger Fabric peer, orderer or CA server. The real
// ones are Go programs that do not install here; this process plays what a backup sees of them,
// written from Fabric's documentation (core.yaml, orderer.yaml, fabric-ca-server-config.yaml and
// the operations service): it reads its configuration file, opens its folders, refuses to start on
// a damaged block file, listens on the ports its configuration names, and answers GET /healthz
// on its operations address as Fabric does ({"status":"OK"}). Nothing here is Fabric code.
//
//   node fabric-standin.js start --role peer|orderer|ca --config FILE --pid-file FILE [--start-delay-ms N]
//       starts the server detached (own session) and returns once it answers /healthz, or fails
//       with the server's own error when it exits first. Starting a running one does nothing.
//   node fabric-standin.js stop --pid-file FILE      SIGTERM, then waits for the exit (SIGKILL after 10 s)
//   node fabric-standin.js check --url URL           exit 0 when URL answers 200
//   node fabric-standin.js serve ...                 the server itself (what start runs)
//
// What each role reads from its configuration file:
//   peer    core.yaml: peer.fileSystemPath, peer.listenAddress, operations.listenAddress; the block
//           files under <fileSystemPath>/ledgersData/chains/chains/<channel>/ must be whole records.
//   orderer orderer.yaml: General.ListenAddress/ListenPort, FileLedger.Location,
//           Consensus.WALDir/SnapDir (must exist when given), Operations.ListenAddress.
//   ca      fabric-ca-server-config.yaml (in the CA's home): port, operations.listenAddress; the home
//           must hold ca-cert.pem (a real CA would make a new identity, which no operator wants).
// GET /state on the operations address answers what it opened: {role, home, channels: {name: blocks}}.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const YAML = require('yaml');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function args() {
  const [command, ...rest] = process.argv.slice(2);
  const options = {};
  for (let i = 0; i < rest.length; i += 2) options[rest[i].replace(/^--/, '')] = rest[i + 1];
  return { command, options };
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const get = (object, dotted) => dotted.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), object);
const portOf = (address) => Number(String(address).split(':').pop());

/** Counts whole records (uvarint length + block) in a block file; throws at a torn one. */
function countBlocks(file) {
  const bytes = fs.readFileSync(file);
  let offset = 0;
  let blocks = 0;
  while (offset < bytes.length) {
    let length = 0;
    let shift = 0;
    let byte;
    do {
      if (offset >= bytes.length) throw new Error(`${file}: the file ends inside a record's length at offset ${offset}`);
      byte = bytes[offset++];
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    if (offset + length > bytes.length) throw new Error(`${file}: the record at block ${blocks} runs past the end of the file`);
    offset += length;
    blocks++;
  }
  return blocks;
}

function openChannels(store) {
  const channels = {};
  if (!fs.existsSync(store)) return channels;
  for (const channel of fs.readdirSync(store).sort()) {
    const dir = path.join(store, channel);
    if (!fs.statSync(dir).isDirectory()) continue;
    channels[channel] = fs
      .readdirSync(dir)
      .filter((f) => /^blockfile_\d+$/.test(f))
      .sort()
      .reduce((n, f) => n + countBlocks(path.join(dir, f)), 0);
  }
  return channels;
}

/** What the server opens, by role: its folders, its ports. */
function describe(role, configFile) {
  const config = YAML.parse(fs.readFileSync(configFile, 'utf8')) ?? {};
  if (role === 'peer') {
    const home = get(config, 'peer.fileSystemPath') ?? '/var/hyperledger/production';
    fs.mkdirSync(home, { recursive: true });
    return { home, ports: [portOf(get(config, 'peer.listenAddress') ?? '0.0.0.0:7051')], operations: portOf(get(config, 'operations.listenAddress') ?? '127.0.0.1:9443'), channels: openChannels(path.join(home, 'ledgersData', 'chains', 'chains')) };
  }
  if (role === 'orderer') {
    const home = get(config, 'FileLedger.Location') ?? '/var/hyperledger/production/orderer';
    fs.mkdirSync(home, { recursive: true });
    for (const key of ['Consensus.WALDir', 'Consensus.SnapDir']) {
      const dir = get(config, key);
      if (dir && !fs.existsSync(dir)) throw new Error(`${key} ${dir} does not exist`);
    }
    return { home, ports: [Number(get(config, 'General.ListenPort') ?? 7050)], operations: portOf(get(config, 'Operations.ListenAddress') ?? '127.0.0.1:8443'), channels: openChannels(path.join(home, 'chains')) };
  }
  if (role === 'ca') {
    const home = path.dirname(configFile);
    if (!fs.existsSync(path.join(home, 'ca-cert.pem'))) throw new Error(`the CA home ${home} holds no ca-cert.pem`);
    return { home, ports: [Number(config.port ?? 7054)], operations: portOf(get(config, 'operations.listenAddress') ?? '127.0.0.1:9443'), channels: {} };
  }
  throw new Error(`unknown role ${role}`);
}

async function serve(options) {
  if (options['start-delay-ms']) await sleep(Number(options['start-delay-ms']));
  let state;
  try {
    state = describe(options.role, options.config);
  } catch (error) {
    fail(`${options.role} cannot start: ${error.message}`);
  }
  const servers = [];
  const listen = (port, handler) =>
    new Promise((resolve, reject) => {
      const server = http.createServer(handler);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
      servers.push(server);
    });
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    await listen(state.operations, (req, res) => {
      if (req.url === '/healthz') return json(res, 200, { status: 'OK', time: new Date().toISOString() });
      if (req.url === '/state') return json(res, 200, { role: options.role, home: state.home, channels: state.channels, ports: state.ports });
      json(res, 404, { error: 'not found' });
    });
    for (const port of state.ports) if (port !== state.operations) await listen(port, (req, res) => json(res, 200, { role: options.role }));
  } catch (error) {
    fail(`${options.role} cannot listen: ${error.message}`);
  }
  fs.writeFileSync(options['pid-file'], String(process.pid));
  const stop = () => {
    for (const server of servers) server.close();
    try {
      fs.unlinkSync(options['pid-file']);
    } catch {
      // already gone
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function running(pidFile) {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    process.kill(pid, 0);
    const status = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2];
    return status === 'Z' ? null : pid;
  } catch {
    return null;
  }
}

async function health(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => (req.destroy(), resolve(false)));
  });
}

async function start(options) {
  if (running(options['pid-file'])) return;
  const log = `${options['pid-file']}.log`;
  const out = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [__filename, 'serve', ...process.argv.slice(3)], { detached: true, stdio: ['ignore', out, out] });
  let exited = null;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const operations = describeOperations(options);
  for (let i = 0; i < 600; i++) {
    if (exited !== null) fail(fs.readFileSync(log, 'utf8').trim().split('\n').pop());
    if (running(options['pid-file']) && (await health(`http://127.0.0.1:${operations}/healthz`))) return;
    await sleep(50);
  }
  fail(`${options.role} did not answer /healthz within 30 s`);
}

function describeOperations(options) {
  const config = YAML.parse(fs.readFileSync(options.config, 'utf8')) ?? {};
  return portOf(get(config, options.role === 'orderer' ? 'Operations.ListenAddress' : 'operations.listenAddress') ?? '127.0.0.1:9443');
}

async function stop(options) {
  const pid = running(options['pid-file']);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200; i++) {
    if (!running(options['pid-file'])) return;
    await sleep(50);
  }
  process.kill(pid, 'SIGKILL');
}

async function main() {
  const { command, options } = args();
  if (command === 'serve') return serve(options);
  if (command === 'start') return start(options);
  if (command === 'stop') return stop(options);
  if (command === 'check') process.exit((await health(options.url)) ? 0 : 1);
  fail('usage: fabric-standin.js start|stop|check|serve ...');
}

main().catch((error) => fail(error.stack ?? String(error)));
