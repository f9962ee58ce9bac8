'use strict';
// Prometheus text exposition format 0.0.4, written out by hand (node has no client in
// its standard library): HELP and TYPE per family, histograms as cumulative buckets
// ending in le="+Inf", with _sum and _count.

const fs = require('node:fs');

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabel(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(names, values, extra = '') {
  const pairs = names.map((name, i) => `${name}="${escapeLabel(values[i])}"`);
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

class Family {
  constructor(name, help, type, labelNames = []) {
    if (!NAME_RE.test(name)) throw new Error(`bad metric name ${name}`);
    for (const label of labelNames) {
      if (!LABEL_RE.test(label) || label === 'le') throw new Error(`bad label name ${label}`);
    }
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labelNames;
    this.series = new Map(); // JSON of label values -> value or histogram state
  }

  _key(values) {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes labels ${this.labelNames.join(',')}`);
    }
    return JSON.stringify(values.map(String));
  }

  header() {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }
}

class Counter extends Family {
  constructor(name, help, labelNames) {
    super(name, help, 'counter', labelNames);
  }

  inc(values = [], by = 1) {
    const key = this._key(values);
    this.series.set(key, (this.series.get(key) || 0) + by);
  }

  render() {
    let out = this.header();
    for (const [key, value] of this.series) {
      out += `${this.name}${labelText(this.labelNames, JSON.parse(key))} ${formatValue(value)}\n`;
    }
    return out;
  }
}

// A family whose samples are read at scrape time: collect() returns [[labelValues, value], ...].
// A gauge unless told otherwise (the process CPU time is a counter kept by the kernel).
class Gauge extends Family {
  constructor(name, help, labelNames, collect, type = 'gauge') {
    super(name, help, type, labelNames);
    this.collect = collect;
  }

  render() {
    let out = this.header();
    for (const [values, value] of this.collect()) {
      out += `${this.name}${labelText(this.labelNames, values)} ${formatValue(value)}\n`;
    }
    return out;
  }
}

class Histogram extends Family {
  constructor(name, help, labelNames, buckets) {
    super(name, help, 'histogram', labelNames);
    const sorted = [...buckets].sort((a, b) => a - b);
    if (!sorted.length || sorted.some((b, i) => !Number.isFinite(b) || (i && b === sorted[i - 1]))) {
      throw new Error(`${name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }

  observe(values, seconds) {
    const key = this._key(values);
    let state = this.series.get(key);
    if (!state) {
      state = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, state);
    }
    // Counted in the first bucket it fits; rendering accumulates.
    const index = this.buckets.findIndex((bound) => seconds <= bound);
    if (index >= 0) state.counts[index] += 1;
    state.sum += seconds;
    state.count += 1;
  }

  render() {
    let out = this.header();
    for (const [key, state] of this.series) {
      const values = JSON.parse(key);
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += state.counts[i];
        out += `${this.name}_bucket${labelText(this.labelNames, values, `le="${formatValue(bound)}"`)} ${cumulative}\n`;
      });
      out += `${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${state.count}\n`;
      out += `${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(state.sum)}\n`;
      out += `${this.name}_count${labelText(this.labelNames, values)} ${state.count}\n`;
    }
    return out;
  }
}

// The process series the scaling reports read (CPU seconds, resident memory).
function processFamilies() {
  const started = Date.now() / 1000 - process.uptime();
  return [
    new Gauge('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [], () => {
      const usage = process.cpuUsage();
      return [[[], (usage.user + usage.system) / 1e6]];
    }, 'counter'),
    new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [],
      () => [[[], process.memoryUsage().rss]]),
    new Gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', [],
      () => [[[], Math.round(started * 1000) / 1000]]),
    new Gauge('process_open_fds', 'Open file descriptors.', [], () => {
      try {
        return [[[], fs.readdirSync('/proc/self/fd').length]];
      } catch (err) {
        return [];
      }
    }),
  ];
}

class Registry {
  constructor() {
    this.families = [];
  }

  add(family) {
    if (this.families.some((f) => f.name === family.name)) throw new Error(`duplicate metric ${family.name}`);
    this.families.push(family);
    return family;
  }

  render() {
    return this.families.map((family) => family.render()).join('');
  }
}

module.exports = { Registry, Counter, Gauge, Histogram, processFamilies, CONTENT_TYPE, formatValue };
