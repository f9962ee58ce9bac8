#!/usr/bin/env node
'use strict';
// ledgerly: a small ledger service (accounts, credits and debits) that the
// fleetops.lifecycle collection operates as its second example service.
// Node.js standard library only (Debian 12's nodejs 18 or newer). See README.md.

const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const crypto = require('node:crypto');

const { loadConfig, UsageError, SLOT_RE, LOG_LEVELS } = require('./lib/config');
const { Journal, StateError, LimitError, snapshot, checkState, checkEntry, ACCOUNT_RE } = require('./lib/journal');
const { Registry, Counter, Gauge, Histogram, processFamilies, CONTENT_TYPE } = require('./lib/metrics');

const NAME = 'ledgerly';
const RELEASE_FILE = path.join(__dirname, 'release.json');
const PORT_ENV = 'LEDGERLY_PORT';
const TOKEN_ENV = 'LEDGERLY_TOKEN';
const EXIT = { ok: 0, failure: 1, usage: 2, failStart: 3 };
const PATHS = { live: '/health/live', ready: '/health/ready', about: '/about', metrics: '/internal/metrics' };
const INFLIGHT_GRACE_MS = 10000;
const MAX_BODY_BYTES = 4096;
const CLIENT_TIMEOUT_MS = 15000;
// Bounds include the thresholds the deploy gate and the SLOs count against (0.2, 0.25, 0.3 s).
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1, 2.5, 5];

class FatalError extends Error {}

class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

// --- command line ----------------------------------------------------------------

const USAGE = `usage: server.js --config FILE --slot NAME [--port N]
       server.js --config FILE --check-config
       server.js --config FILE --snapshot-to DIR
       server.js --check-state DIR
environment: LEDGERLY_PORT (the slot's port), LEDGERLY_TOKEN (bearer token for writes)`;

function parseArgs(argv) {
  const args = { config: '/etc/ledgerly/ledgerly.json' };
  const valued = { '--config': 'config', '--slot': 'slot', '--port': 'port', '--snapshot-to': 'snapshotTo', '--check-state': 'checkState' };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--check-config') {
      args.checkConfig = true;
    } else if (arg === '--help' || arg === '-h') {
      args.help = true;
    } else if (arg in valued) {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      args[valued[arg]] = argv[(i += 1)];
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  const modes = ['checkConfig', 'snapshotTo', 'checkState'].filter((mode) => args[mode] !== undefined);
  if (modes.length > 1) throw new UsageError('--check-config, --snapshot-to and --check-state exclude each other');
  if (args.port !== undefined && !/^[0-9]{1,5}$/.test(args.port)) {
    throw new UsageError(`--port ${JSON.stringify(args.port)}: expected a whole number from 1 to 65535`);
  }
  if (args.port !== undefined) {
    args.port = Number(args.port);
    if (args.port < 1 || args.port > 65535) throw new UsageError(`--port ${args.port}: expected a whole number from 1 to 65535`);
  }
  if (args.slot !== undefined && !SLOT_RE.test(args.slot)) {
    throw new UsageError(`--slot ${JSON.stringify(args.slot)}: expected a name matching ${SLOT_RE.source}`);
  }
  return args;
}

// --- release ---------------------------------------------------------------------

function loadRelease(file) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: cannot load the release description: ${err.code || err.message}`);
  }
  const faults = data && typeof data === 'object' ? data.faults : undefined;
  if (!(data && data.name === NAME && typeof data.version === 'string' && faults && typeof faults === 'object')) {
    throw new UsageError(`${file}: expected {"name": "${NAME}", "version": "...", "faults": {...}}`);
  }
  const checks = {
    error_ratio: (v) => typeof v === 'number' && v >= 0 && v <= 1,
    latency_ms: (v) => Number.isInteger(v) && v >= 0 && v <= 60000,
    load_delay_ms: (v) => Number.isInteger(v) && v >= 0 && v <= 600000,
    fail_start: (v) => typeof v === 'boolean',
  };
  for (const [key, ok] of Object.entries(checks)) {
    if (!ok(faults[key])) throw new UsageError(`${file}: faults.${key} = ${JSON.stringify(faults[key])} is out of range`);
  }
  return { version: data.version, faults };
}

// --- logging ---------------------------------------------------------------------

function makeLogger(level, slot, secret) {
  const threshold = LOG_LEVELS.indexOf(level);
  return (at, message) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    const text = secret ? String(message).split(secret).join('[REDACTED]') : String(message);
    process.stderr.write(`${at} [${slot}] ${text}\n`);
  };
}

// --- HTTP --------------------------------------------------------------------------

function routeOf(pathname) {
  if (['/', PATHS.live, PATHS.ready, PATHS.about, PATHS.metrics, '/accounts'].includes(pathname)) {
    return { route: pathname };
  }
  const match = /^\/accounts\/([^/]+)(\/entries)?$/.exec(pathname);
  if (!match) return { route: 'other' };
  let account = '';
  try {
    account = decodeURIComponent(match[1]);
  } catch (err) {
    // Malformed percent-encoding: an empty name, which no account has (400).
  }
  return { route: match[2] ? '/accounts/:name/entries' : '/accounts/:name', account };
}

const ALLOWED = {
  '/accounts/:name/entries': ['POST'],
};

function tokenMatches(header, token) {
  if (!token || typeof header !== 'string') return false;
  const [scheme, presented] = header.split(' ', 2);
  if (!scheme || scheme.toLowerCase() !== 'bearer' || !presented) return false;
  // Equal-length digests so the comparison time says nothing about the token.
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (req.headers['content-length'] !== undefined && declared > MAX_BODY_BYTES) {
      reject(new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

class App {
  constructor({ release, slot, journal, config, token, log }) {
    Object.assign(this, { release, slot, journal, config, token, log });
    this.host = os.hostname();
    this.draining = false;
    this.damaged = null;
    this.inflight = 0;
    this.registry = new Registry();
    this.requests = this.registry.add(new Counter(`${NAME}_requests_total`, 'HTTP requests by route, method and status.',
      ['route', 'method', 'status']));
    this.latency = this.registry.add(new Histogram(`${NAME}_request_seconds`, 'Time to answer an HTTP request, by route.',
      ['route'], LATENCY_BUCKETS));
    this.registry.add(new Gauge(`${NAME}_build_info`, 'Running release and slot; always 1.', ['release', 'slot'],
      () => [[[release.version, slot], 1]]));
    this.registry.add(new Gauge(`${NAME}_state_loaded`, '1 once the journals are loaded, else 0.', [],
      () => [[[], journal.loaded ? 1 : 0]]));
    this.registry.add(new Gauge(`${NAME}_accounts`, 'Accounts in the ledger.', [],
      () => [[[], journal.loaded ? journal.ledger.accounts.size : NaN]]));
    this.registry.add(new Gauge(`${NAME}_entries`, 'Journal records in the ledger.', [],
      () => [[[], journal.loaded ? journal.ledger.entries : NaN]]));
    this.registry.add(new Gauge(`${NAME}_inflight_requests`, 'Requests being answered.', [], () => [[[], this.inflight]]));
    for (const family of processFamilies()) this.registry.add(family);
  }

  versionInfo() {
    return { service: NAME, release: this.release.version, slot: this.slot, node: process.version, faults: this.release.faults };
  }

  // The journals, brought up to date with what the other slot wrote; 503 when not usable.
  state() {
    if (this.damaged) throw new HttpError(503, 'state damaged');
    if (!this.journal.loaded) throw new HttpError(503, 'state loading');
    try {
      this.journal.refresh();
    } catch (err) {
      if (!(err instanceof StateError)) throw err;
      this.damaged = err.message;
      this.log('error', `state damaged, not ready any more: ${err.message}`);
      throw new HttpError(503, 'state damaged');
    }
    return this.journal;
  }

  async handle(req, res) {
    const started = process.hrtime.bigint();
    const pathname = req.url.split('?', 1)[0];
    const { route, account } = routeOf(pathname);
    this.inflight += 1;
    res.on('close', () => {
      this.inflight -= 1;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.requests.inc([route, req.method, String(res.statusCode)]);
      this.latency.observe([route], seconds);
      this.log('debug', `${req.method} ${pathname} ${res.statusCode} ${seconds.toFixed(4)}s`);
    });
    if (this.draining) res.setHeader('Connection', 'close');
    try {
      const allowed = ALLOWED[route] || ['GET'];
      if (route === 'other') throw new HttpError(404, 'not found');
      if (!allowed.includes(req.method)) throw new HttpError(405, 'method not allowed', { Allow: allowed.join(', ') });
      await this.dispatch(route, account, req, res);
    } catch (err) {
      if (!(err instanceof HttpError)) {
        this.log('error', `${req.method} ${route}: ${err.stack || err}`);
        err = new HttpError(500, 'internal error');
      }
      if (!res.headersSent) this.send(res, err.status, { error: err.message }, err.headers);
      else res.destroy();
    }
  }

  send(res, status, payload, headers = {}) {
    const body = typeof payload === 'string' ? `${payload}\n` : `${JSON.stringify(payload)}\n`;
    const type = typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  async dispatch(route, account, req, res) {
    switch (route) {
      case '/': return this.root(res);
      case PATHS.live: return this.send(res, 200, 'alive');
      case PATHS.ready: return this.ready(res);
      case PATHS.about: return this.send(res, 200, this.versionInfo());
      case PATHS.metrics:
        res.writeHead(200, { 'Content-Type': CONTENT_TYPE });
        return res.end(this.registry.render());
      case '/accounts': return this.send(res, 200, this.state().ledger.summary());
      case '/accounts/:name': return this.showAccount(res, account);
      default: return this.addEntry(req, res, account);
    }
  }

  async root(res) {
    const { latency_ms: latency, error_ratio: ratio } = this.release.faults;
    if (latency) await new Promise((resolve) => setTimeout(resolve, latency));
    if (Math.random() < ratio) {
      return this.send(res, 500, { error: 'injected fault', release: this.release.version, slot: this.slot });
    }
    const { accounts, entries } = this.state().ledger.summary();
    return this.send(res, 200, { service: NAME, release: this.release.version, slot: this.slot, host: this.host, accounts, entries });
  }

  ready(res) {
    if (this.draining) return this.send(res, 503, 'draining');
    if (this.damaged) return this.send(res, 503, 'state damaged');
    if (!this.journal.loaded) return this.send(res, 503, 'loading state');
    return this.send(res, 200, 'ready');
  }

  showAccount(res, name) {
    if (!ACCOUNT_RE.test(name)) throw new HttpError(400, `account name must match ${ACCOUNT_RE.source}`);
    const found = this.state().account(name);
    if (!found) throw new HttpError(404, `no account ${name}`);
    return this.send(res, 200, { account: name, balance: found.balance.toString(), entries: found.entries });
  }

  async addEntry(req, res, name) {
    if (!tokenMatches(req.headers.authorization, this.token)) {
      throw new HttpError(401, 'a bearer token is required', { 'WWW-Authenticate': 'Bearer' });
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'body is not valid JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'expected {"amount": <cents>, "memo": "..."}');
    const memo = body.memo === undefined ? '' : body.memo;
    const bad = checkEntry(name, body.amount, memo);
    if (bad) throw new HttpError(400, bad);
    const journal = this.state();
    let record;
    try {
      record = journal.append(name, body.amount, memo);
    } catch (err) {
      if (err instanceof LimitError) throw new HttpError(507, err.message);
      this.log('error', `cannot append to the journal: ${err.message}`);
      throw new HttpError(503, 'state unavailable');
    }
    const found = journal.account(name);
    return this.send(res, 201, { account: name, writer: record.writer, seq: record.seq, balance: found.balance.toString() });
  }
}

// --- process ---------------------------------------------------------------------

function listen(server, host, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function shutDown(server, app, signal) {
  if (app.draining) return;
  app.draining = true;
  app.log('info', `received ${signal}: readiness now answers 503`);
  // Keep serving a while so the load balancer's checks see the 503 first.
  await sleep(app.config.drain_seconds * 1000);
  server.close();
  server.closeIdleConnections();
  const deadline = Date.now() + INFLIGHT_GRACE_MS;
  while (app.inflight > 0 && Date.now() < deadline) await sleep(20);
  if (app.inflight > 0) app.log('warning', `${app.inflight} request(s) still in flight after ${INFLIGHT_GRACE_MS} ms; closing anyway`);
  server.closeAllConnections();
  app.journal.close();
  app.log('info', 'journal synced and closed; bye');
  process.exit(EXIT.ok);
}

// The port of the slot: --port, else $LEDGERLY_PORT (the env file the service role
// writes per slot), else "ports" in the config.
function resolvePort(args, config, env) {
  if (args.port !== undefined) return args.port;
  const raw = env[PORT_ENV];
  if (raw !== undefined) {
    const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : 0;
    if (port < 1 || port > 65535) throw new UsageError(`${PORT_ENV}=${JSON.stringify(raw)}: expected a whole number from 1 to 65535`);
    return port;
  }
  if (config.ports[args.slot] === undefined) {
    throw new UsageError(`slot ${args.slot} has no port: set ${PORT_ENV}, add it to "ports" or pass --port`);
  }
  return config.ports[args.slot];
}

// The write token: $LEDGERLY_TOKEN (the service role's 0600 env file), else "token" in the config.
function resolveToken(config, env) {
  const raw = env[TOKEN_ENV];
  if (raw === undefined) return config.token;
  if (raw.length < 12 || /\s/.test(raw)) {
    // The value is a secret: say what is wrong with it, never what it is.
    throw new UsageError(`${TOKEN_ENV} (${raw.length} characters, value not shown): expected at least 12 characters without spaces`);
  }
  return raw;
}

async function serve(args, config) {
  const token = resolveToken(config, process.env);
  const log = makeLogger(config.log_level, args.slot, token);
  const port = resolvePort(args, config, process.env);
  const release = loadRelease(RELEASE_FILE);
  if (release.faults.fail_start) {
    log('error', `release ${release.version} has faults.fail_start set: refusing to start`);
    return EXIT.failStart;
  }
  if (!token) log('warning', `no token (${TOKEN_ENV} or "token" in the config): writes answer 401`);
  let journal;
  try {
    journal = new Journal(config.state_dir, args.slot, { fsync: config.fsync, log });
  } catch (err) {
    if (err instanceof StateError) throw new FatalError(err.message);
    throw err;
  }
  const app = new App({ release, slot: args.slot, journal, config, token, log });
  const server = http.createServer((req, res) => app.handle(req, res));
  server.maxConnections = config.max_connections;
  server.requestTimeout = CLIENT_TIMEOUT_MS;
  server.headersTimeout = CLIENT_TIMEOUT_MS;
  try {
    await listen(server, config.listen, port);
  } catch (err) {
    throw new FatalError(`cannot listen on ${config.listen} port ${port}: ${err.code || err.message}`);
  }
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => shutDown(server, app, signal));
  log('info', `${NAME} ${release.version} (slot ${args.slot}) listening on ${config.listen} port ${port}; loading state`);
  // Liveness answers from here on; readiness waits for the journals.
  await sleep(release.faults.load_delay_ms);
  try {
    const summary = await journal.load();
    log('info', `state loaded: ${summary.accounts} accounts, ${summary.entries} entries; ready`);
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    log('error', `cannot load the state, refusing to serve it: ${err.message}`);
    process.exit(EXIT.failure);
  }
  return null; // keeps running until a signal
}

async function main(argv) {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (args.checkState !== undefined) {
    try {
      process.stdout.write(`${JSON.stringify(checkState(path.resolve(args.checkState)))}\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof StateError) throw new FatalError(`state check failed:\n${err.message}`);
      throw err;
    }
  }
  const config = loadConfig(args.config);
  if (args.checkConfig) {
    process.stdout.write('config ok\n');
    return EXIT.ok;
  }
  if (args.snapshotTo !== undefined) {
    try {
      process.stdout.write(`${JSON.stringify(snapshot(config.state_dir, path.resolve(args.snapshotTo)))}\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof StateError || err.code) throw new FatalError(`snapshot failed: ${err.message}`);
      throw err;
    }
  }
  if (args.slot === undefined) throw new UsageError(`--slot is required to serve\n${USAGE}`);
  return serve(args, config);
}

main(process.argv.slice(2)).then(
  (status) => {
    if (status !== null) process.exitCode = status;
  },
  (err) => {
    let status = EXIT.failure;
    if (err instanceof UsageError) status = EXIT.usage;
    else if (!(err instanceof FatalError)) process.stderr.write(`${err.stack || err}\n`);
    for (const line of err.message.split('\n')) process.stderr.write(`${NAME}: error: ${line}\n`);
    process.exitCode = status;
  },
);
