'use strict';
// The state store: one append-only journal file per writer (slot) under
// <state_dir>/journal/<writer>.jsonl, one JSON record per line, each carrying its
// writer's sequence number and a sha256 over its fields.
//
// Only the process of slot X appends to X.jsonl (systemd runs one instance per slot),
// so no lock is needed between the blue and green processes of a host: each reads the
// other's file from the offset it reached. Records are independent credits and debits,
// so balances do not depend on how the files interleave, and any prefix of each file
// is a sound state: a snapshot copies every file up to its last complete line.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const JOURNAL_DIR = 'journal';
const SUFFIX = '.jsonl';
const FILE_RE = /^([a-z][a-z0-9_-]{0,31})\.jsonl$/;
const ACCOUNT_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_AMOUNT = 1e12;
const MAX_MEMO = 200;
const MAX_ACCOUNTS = 100000;
const CHUNK = 1024 * 1024;
const MAX_PROBLEMS = 20;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW || 0;

class StateError extends Error {}
class LimitError extends Error {}

function digest(seq, writer, at, account, amount, memo) {
  return crypto.createHash('sha256').update(JSON.stringify([seq, writer, at, account, amount, memo])).digest('hex');
}

function encodeRecord(seq, writer, account, amount, memo) {
  const at = new Date().toISOString();
  const record = { seq, writer, at, account, amount, memo, sum: digest(seq, writer, at, account, amount, memo) };
  return { record, line: `${JSON.stringify(record)}\n` };
}

function checkEntry(account, amount, memo) {
  if (typeof account !== 'string' || !ACCOUNT_RE.test(account)) return `account ${JSON.stringify(account)} must match ${ACCOUNT_RE.source}`;
  if (!Number.isInteger(amount) || amount === 0 || Math.abs(amount) > MAX_AMOUNT) {
    return `amount ${JSON.stringify(amount)} must be a non-zero whole number of cents within ±${MAX_AMOUNT}`;
  }
  if (typeof memo !== 'string' || memo.length > MAX_MEMO) return `memo must be a string of at most ${MAX_MEMO} characters`;
  return null;
}

// The record on one line, or a StateError saying why it is not the next one of `writer`.
function parseRecord(line, writer, seq) {
  let record;
  try {
    record = JSON.parse(line);
  } catch (err) {
    throw new StateError(`not JSON: ${err.message}`);
  }
  if (record === null || typeof record !== 'object') throw new StateError('not a JSON object');
  const { at, account, amount, memo, sum } = record;
  if (record.writer !== writer) throw new StateError(`writer ${JSON.stringify(record.writer)} in the file of ${writer}`);
  if (record.seq !== seq) throw new StateError(`seq ${JSON.stringify(record.seq)} where ${seq} was expected (lost or repeated record)`);
  const bad = checkEntry(account, amount, memo);
  if (bad) throw new StateError(bad);
  if (typeof at !== 'string' || sum !== digest(seq, writer, at, account, amount, memo)) throw new StateError('checksum mismatch');
  return record;
}

// Balances of every account: what the journals add up to.
class Ledger {
  constructor() {
    this.accounts = new Map();
    this.entries = 0;
  }

  apply(record) {
    let account = this.accounts.get(record.account);
    if (!account) {
      account = { balance: 0n, entries: 0 };
      this.accounts.set(record.account, account);
    }
    account.balance += BigInt(record.amount);
    account.entries += 1;
    this.entries += 1;
  }

  // sha256 over the balances in account order: equal for equal states, whatever the
  // order the records were read in.
  checksum() {
    const hash = crypto.createHash('sha256');
    for (const name of [...this.accounts.keys()].sort()) {
      const { balance, entries } = this.accounts.get(name);
      hash.update(`${name} ${balance} ${entries}\n`);
    }
    return hash.digest('hex');
  }

  summary() {
    return { accounts: this.accounts.size, entries: this.entries, checksum: this.checksum() };
  }
}

// Reads one journal file from where it left off; only complete lines count.
class TailReader {
  constructor(file, writer, fd) {
    this.file = file;
    this.writer = writer;
    this.fd = fd;
    this.offset = 0;
    this.lineNo = 0;
    this.nextSeq = 1;
  }

  // Reads at most `budget` bytes up to `end` (default: the current size); calls
  // onRecord(record) per complete line. Returns true while more is to read.
  step(onRecord, budget = CHUNK, end = undefined) {
    const size = end === undefined ? fs.fstatSync(this.fd).size : end;
    if (size <= this.offset) return false;
    const length = Math.min(size - this.offset, budget);
    const buffer = Buffer.alloc(length);
    const got = fs.readSync(this.fd, buffer, 0, length, this.offset);
    const last = buffer.lastIndexOf(10, got - 1);
    if (last < 0) {
      if (got === budget) throw new StateError(`${this.file}: a line longer than ${budget} bytes at offset ${this.offset}`);
      return false; // a record still being written, or a torn tail
    }
    const base = this.offset;
    let start = 0;
    while (start <= last) {
      const nl = buffer.indexOf(10, start);
      let record;
      try {
        record = parseRecord(buffer.toString('utf8', start, nl), this.writer, this.nextSeq);
      } catch (err) {
        if (err instanceof StateError) throw new StateError(`${this.file}:${this.lineNo + 1}: ${err.message}`);
        throw err;
      }
      onRecord(record);
      // Advanced per record: after an error the reader stands at the bad line.
      this.lineNo += 1;
      this.nextSeq += 1;
      start = nl + 1;
      this.offset = base + start;
    }
    return this.offset < size;
  }

  tornBytes() {
    return fs.fstatSync(this.fd).size - this.offset;
  }
}

function openNoFollow(file, flags, mode) {
  try {
    return fs.openSync(file, flags | O_NOFOLLOW, mode);
  } catch (err) {
    throw new StateError(`cannot open ${file}: ${err.code || err.message}`);
  }
}

function journalFiles(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new StateError(`cannot list ${dir}: ${err.code || err.message}`);
  }
  return names.filter((name) => FILE_RE.test(name)).sort();
}

function requireDir(dir, what) {
  let info;
  try {
    info = fs.lstatSync(dir);
  } catch (err) {
    throw new StateError(`${what} ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new StateError(`${what} ${dir} is not a directory`);
}

// The live store of one process: its own journal to append to, every writer's to read.
class Journal {
  constructor(stateDir, writer, { fsync = true, log = () => {} } = {}) {
    requireDir(stateDir, 'state dir'); // never created here: a typo must not start from empty
    this.dir = path.join(stateDir, JOURNAL_DIR);
    this.writer = writer;
    this.fsync = fsync;
    this.log = log;
    this.ledger = new Ledger();
    this.readers = new Map();
    this.loaded = false;
    if (!fs.existsSync(this.dir)) fs.mkdirSync(this.dir, { mode: 0o750 });
    requireDir(this.dir, 'journal dir');
    const own = path.join(this.dir, writer + SUFFIX);
    this.fd = openNoFollow(own, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o640);
    this.readers.set(writer, new TailReader(own, writer, this.fd));
  }

  _discover() {
    for (const name of journalFiles(this.dir)) {
      const writer = FILE_RE.exec(name)[1];
      if (!this.readers.has(writer)) {
        const file = path.join(this.dir, name);
        this.readers.set(writer, new TailReader(file, writer, openNoFollow(file, fs.constants.O_RDONLY)));
      }
    }
  }

  // Loads a bounded piece; resolves when all is loaded. Yields between pieces so the
  // process answers liveness and readiness (503) while a long journal loads.
  async load() {
    this._discover();
    for (const reader of this.readers.values()) {
      while (reader.step((record) => this.ledger.apply(record))) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const own = this.readers.get(this.writer);
    const torn = own.tornBytes();
    if (torn > 0) {
      // Only this process writes its file: a partial last line is a write cut short.
      this.log('warning', `${own.file}: dropping an incomplete last record (${torn} bytes)`);
      fs.ftruncateSync(this.fd, own.offset);
    }
    this.loaded = true;
    return this.ledger.summary();
  }

  // Takes in what other writers appended since the last call.
  refresh() {
    this._discover();
    for (const reader of this.readers.values()) {
      while (reader.step((record) => this.ledger.apply(record)));
    }
  }

  append(account, amount, memo) {
    this.refresh();
    if (!this.ledger.accounts.has(account) && this.ledger.accounts.size >= MAX_ACCOUNTS) {
      throw new LimitError(`account ${account} would be account ${MAX_ACCOUNTS + 1}; at most ${MAX_ACCOUNTS} are kept`);
    }
    const own = this.readers.get(this.writer);
    const { record, line } = encodeRecord(own.nextSeq, this.writer, account, amount, memo);
    const bytes = Buffer.from(line, 'utf8');
    // One write() per record: the other slot sees it whole or not at all.
    const written = fs.writeSync(this.fd, bytes, 0, bytes.length);
    if (written !== bytes.length) {
      fs.ftruncateSync(this.fd, own.offset);
      throw new StateError(`short write to ${own.file}`);
    }
    if (this.fsync) fs.fdatasyncSync(this.fd);
    own.offset += bytes.length;
    own.lineNo += 1;
    own.nextSeq += 1;
    this.ledger.apply(record);
    return record;
  }

  account(name) {
    return this.ledger.accounts.get(name);
  }

  close() {
    if (this.fsync) fs.fsyncSync(this.fd);
    for (const reader of this.readers.values()) fs.closeSync(reader.fd);
    this.readers.clear();
  }
}

function fsyncPath(target) {
  const fd = fs.openSync(target, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// Copies the complete records of every journal into <targetDir>/journal while the
// service writes; each record is checked on the way. Returns the copy's summary.
function snapshot(stateDir, targetDir) {
  const source = path.join(stateDir, JOURNAL_DIR);
  requireDir(source, 'journal dir');
  requireDir(targetDir, 'snapshot dir');
  const final = path.join(targetDir, JOURNAL_DIR);
  if (fs.existsSync(final)) throw new StateError(`${final} exists; snapshot into an empty directory`);
  const tmp = path.join(targetDir, `.${JOURNAL_DIR}.tmp-${process.pid}`);
  fs.mkdirSync(tmp, { mode: 0o750 });
  const ledger = new Ledger();
  let bytes = 0;
  const files = journalFiles(source);
  try {
    for (const name of files) {
      const reader = new TailReader(path.join(source, name), FILE_RE.exec(name)[1],
        openNoFollow(path.join(source, name), fs.constants.O_RDONLY));
      const out = fs.openSync(path.join(tmp, name), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
      try {
        // The size now is the cut: records appended after it belong to the next snapshot.
        const end = fs.fstatSync(reader.fd).size;
        let copied = 0;
        let more = true;
        while (more) {
          more = reader.step((record) => ledger.apply(record), CHUNK, end);
          // The checked records, read again: what lies before the offset never changes.
          if (reader.offset > copied) {
            const buffer = Buffer.alloc(reader.offset - copied);
            fs.readSync(reader.fd, buffer, 0, buffer.length, copied);
            fs.writeSync(out, buffer);
            copied = reader.offset;
          }
        }
        bytes += copied;
        fs.fsyncSync(out);
      } finally {
        fs.closeSync(out);
        fs.closeSync(reader.fd);
      }
    }
    fsyncPath(tmp);
    fs.renameSync(tmp, final);
    fsyncPath(targetDir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { path: final, files: files.length, bytes, ...ledger.summary() };
}

// Checks a state directory (live, restored or a snapshot): every record of every
// journal complete, in sequence and matching its checksum. Returns the summary;
// throws a StateError listing the problems found (at most MAX_PROBLEMS).
function checkState(stateDir) {
  const source = path.join(stateDir, JOURNAL_DIR);
  requireDir(stateDir, 'state dir');
  requireDir(source, 'journal dir');
  const ledger = new Ledger();
  const problems = [];
  const files = journalFiles(source);
  for (const name of fs.readdirSync(source)) {
    if (!FILE_RE.test(name)) problems.push(`${path.join(source, name)}: not a journal file name (<writer>${SUFFIX})`);
  }
  for (const name of files) {
    const file = path.join(source, name);
    let reader;
    try {
      const info = fs.lstatSync(file);
      if (!info.isFile()) throw new StateError(`${file}: not a regular file`);
      reader = new TailReader(file, FILE_RE.exec(name)[1], openNoFollow(file, fs.constants.O_RDONLY));
      while (reader.step((record) => ledger.apply(record)));
      const torn = reader.tornBytes();
      if (torn > 0) throw new StateError(`${file}:${reader.lineNo + 1}: incomplete last record (${torn} bytes)`);
    } catch (err) {
      if (!(err instanceof StateError)) throw err;
      problems.push(err.message);
    } finally {
      if (reader) fs.closeSync(reader.fd);
    }
    if (problems.length >= MAX_PROBLEMS) break;
  }
  if (problems.length) throw new StateError(problems.join('\n'));
  return { path: stateDir, files: files.length, ...ledger.summary() };
}

module.exports = { Journal, StateError, LimitError, snapshot, checkState, checkEntry, ACCOUNT_RE, MAX_MEMO };
