'use strict';
// The JSON config file: every key checked, every problem reported at once, each
// message naming the key and the value so the operator knows what to fix.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const LOG_LEVELS = ['debug', 'info', 'warning', 'error'];
const SLOT_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_DRAIN_SECONDS = 60;
const MAX_CONNECTIONS = 4096;
const MAX_CONFIG_BYTES = 64 * 1024;

class UsageError extends Error {}

function describe(value) {
  return JSON.stringify(value === undefined ? null : value);
}

function isPort(value) {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

// key -> [default, check returning an error reason or null]
const SCHEMA = {
  listen: ['0.0.0.0', (v) => (typeof v === 'string' && net.isIP(v) ? null : 'expected an IPv4 or IPv6 address')],
  ports: [{}, checkPorts],
  state_dir: ['/var/lib/ledgerly', (v) => (typeof v === 'string' && path.isAbsolute(v) ? null : 'expected an absolute path')],
  drain_seconds: [0, (v) => (typeof v === 'number' && v >= 0 && v <= MAX_DRAIN_SECONDS
    ? null : `expected a number of seconds from 0 to ${MAX_DRAIN_SECONDS}`)],
  max_connections: [256, (v) => (Number.isInteger(v) && v >= 1 && v <= MAX_CONNECTIONS
    ? null : `expected a whole number from 1 to ${MAX_CONNECTIONS}`)],
  token: ['', (v) => (typeof v === 'string' && (v === '' || v.length >= 12) && !/\s/.test(v)
    ? null : 'expected "" (writes refused) or a string of at least 12 characters without spaces')],
  fsync: [true, (v) => (typeof v === 'boolean' ? null : 'expected true or false')],
  log_level: ['info', (v) => (LOG_LEVELS.includes(v) ? null : `expected one of ${LOG_LEVELS.join(', ')}`)],
};

function checkPorts(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'expected an object {"<slot>": <port>, ...}';
  }
  for (const [slot, port] of Object.entries(value)) {
    if (!SLOT_RE.test(slot)) return `slot name ${describe(slot)} must match ${SLOT_RE.source}`;
    if (!isPort(port)) return `port of slot ${slot}, ${describe(port)}, must be a whole number from 1 to 65535`;
  }
  const ports = Object.values(value);
  if (new Set(ports).size !== ports.length) return 'two slots share a port';
  return null;
}

function readJson(file) {
  let text;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY);
    try {
      const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
      const size = fs.readSync(fd, buffer, 0, buffer.length, 0);
      if (size > MAX_CONFIG_BYTES) throw new UsageError(`${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
      text = buffer.subarray(0, size).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read config ${file}: ${err.code || err.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${err.message}`);
  }
}

// The validated config; throws UsageError listing every bad key.
function loadConfig(file) {
  const raw = readJson(file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${file}: expected a JSON object at the top level`);
  }
  const errors = [];
  for (const key of Object.keys(raw)) {
    if (!(key in SCHEMA)) errors.push(`${key} = ${describe(raw[key])}: unknown option (known: ${Object.keys(SCHEMA).join(', ')})`);
  }
  const config = {};
  for (const [key, [fallback, check]] of Object.entries(SCHEMA)) {
    const value = key in raw ? raw[key] : fallback;
    const reason = check(value);
    if (reason) errors.push(`${key} = ${describe(value)}: ${reason}`);
    config[key] = value;
  }
  if (errors.length) throw new UsageError(errors.map((e) => `${file}: ${e}`).join('\n'));
  return config;
}

module.exports = { loadConfig, UsageError, SLOT_RE, LOG_LEVELS };
