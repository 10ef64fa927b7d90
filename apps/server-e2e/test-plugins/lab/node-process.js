'use strict';
/**
 * A "node" for the lab plugin: a real process that writes its pid file and keeps appending a
 * line to <dataDir>/journal.log every 100 ms, until SIGTERM. Started in the background by the
 * node's startCommand: node node-process.js <dataDir> <pidFile>.
 */
const { appendFileSync, mkdirSync, writeFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const [dataDir, pidFile] = process.argv.slice(2);
mkdirSync(dataDir, { recursive: true });
writeFileSync(pidFile, String(process.pid));
const timer = setInterval(() => appendFileSync(join(dataDir, 'journal.log'), `${new Date().toISOString()} ${process.pid}\n`), 100);
process.on('SIGTERM', () => {
  clearInterval(timer);
  rmSync(pidFile, { force: true });
  process.exit(0);
});
