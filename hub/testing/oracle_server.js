#!/usr/bin/env node
'use strict';
/*
 * Persistent streams-oracle server for Connect Hub's differential tests.
 *
 *   node oracle_server.js <oracle dir>
 *
 * Loads <oracle dir>/oracle.js once (the real amazon-connect-streams library
 * runs inside it) and then serves one request per stdin line:
 *
 *   {"id": 1, "scenario": {...}, "opts": {...}}
 *
 * answering with exactly one stdout line per request:
 *
 *   {"id": 1, "ok": true, "lines": [...], "summary": {...}, "runMs": 41.7, "heapMB": 80.2}
 *   {"id": 1, "ok": false, "error": "message", "stack": "..."}
 *
 * runMs is measured around oracle.run() only (no JSON parsing or writing), so
 * benchmarks can compare the library's own cost fairly. heapMB is the V8 heap in
 * use afterwards: every run() leaves a few MB behind (its two jsdom windows are
 * not fully collectable), so the Python client recycles a process whose heap
 * has grown past a limit. A first line
 * {"ready": true, "streamsVersion": ...} is written once the oracle is loaded.
 * Anything else the process might print goes to stderr, never to stdout.
 * The server exits when stdin closes.
 */
const path = require('path');
const readline = require('readline');

const oracleDir = path.resolve(process.argv[2] || '.');
const out = process.stdout.write.bind(process.stdout);
// Keep stray console output off the protocol channel.
console.log = console.info = console.debug = console.warn = console.error;

let oracle;
let streamsVersion = null;
try {
  oracle = require(path.join(oracleDir, 'oracle.js'));
  streamsVersion = require(require.resolve('amazon-connect-streams/package.json', { paths: [oracleDir] })).version;
} catch (e) {
  out(JSON.stringify({ ready: false, error: String(e && e.stack || e) }) + '\n');
  process.exit(1);
}

function normalise(doc) {
  // Same accepted shapes as oracle.js readInput().
  if (Array.isArray(doc)) return { steps: doc };
  if (doc && Array.isArray(doc.steps)) return doc;
  if (doc && doc.snapshot) return { steps: [doc] };
  throw new Error('scenario must be an array of steps, {"steps": [...]} or a single {"snapshot": ...}');
}

function handle(line) {
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id === undefined ? null : req.id;
    const scenario = normalise(req.scenario);
    const t0 = process.hrtime.bigint();
    const { lines, summary } = oracle.run(scenario, req.opts || {});
    const runMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const heapMB = process.memoryUsage().heapUsed / 1048576;
    return JSON.stringify({ id, ok: true, lines, summary, runMs, heapMB });
  } catch (e) {
    return JSON.stringify({ id, ok: false, error: String(e && e.message || e), stack: String(e && e.stack || '') });
  }
}

out(JSON.stringify({ ready: true, streamsVersion, pid: process.pid, node: process.version }) + '\n');
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
rl.on('line', (line) => {
  if (!line.trim()) return;
  out(handle(line) + '\n');
});
rl.on('close', () => {
  // jsdom windows are closed by oracle.run(); exit explicitly anyway in case a timer lingers.
  process.stdout.write('', () => process.exit(0));
});
