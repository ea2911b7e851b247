/*
 * connect-hub-bridge.js - forwards the Amazon Connect Streams library's agent data and log entries
 * from the agent's page to a Connect Hub. Served by the hub at GET /bridge/connect-hub-bridge.js.
 *
 * Load it after the Streams library and call, after connect.core.initCCP(...):
 *
 *   ConnectHubBridge.start({ hubUrl: 'https://hub.example.com', token: '<per-agent token>' });
 *
 * The token comes from the CRM page's own configuration (its backend mints it with
 * `connect-hub bridge token AGENT`), never from the URL. See docs/bridge.md.
 *
 * What it does:
 *  - subscribes to `agent::update` on connect.core.getEventBus() and queues each agent data
 *    ({snapshot, configuration}, Dates as ISO strings) as one item;
 *  - wraps connect.getLog().addLogEntry and queues the entries at or above `logLevel`;
 *  - sends the queue in order, one request at a time (POST <hubUrl>/bridge/agent-data and
 *    /bridge/logs), each item with a per-agent increasing `seq` and the idempotency key
 *    `<agentARN or username>#<seq>`;
 *  - retries network errors, 429 and 5xx with exponential backoff and full jitter, resumes at once
 *    when the browser comes back online, and stops (and reports) on 401 / 403;
 *  - keeps the queue bounded (the oldest log items are dropped first, then the oldest agent data);
 *  - on `pagehide`, sends what it can with `fetch(..., {keepalive: true})`.
 */
(function (global) {
  'use strict';

  var BRIDGE_VERSION = '1';
  var LEVELS = { TEST: 0, TRACE: 10, DEBUG: 20, INFO: 30, LOG: 40, WARN: 50, ERROR: 100, CRITICAL: 200 };
  var DEFAULTS = {
    maxQueue: 500,          // items kept while the hub is unreachable
    maxBatchItems: 20,      // items per request
    maxBatchBytes: 256 * 1024,
    maxLogEntriesPerItem: 100,
    minBackoffMs: 1000,
    maxBackoffMs: 60000,
    requestTimeoutMs: 15000,
    logLevel: 'INFO',       // lowest Streams log level forwarded; null/false: no logs
    keepaliveBytes: 60000,  // browsers cap keepalive bodies at 64 KiB in total
  };
  var STORAGE_PREFIX = 'connect-hub-bridge:seq:';

  function now() { return Date.now(); }

  function toJson(value) { return JSON.parse(JSON.stringify(value)); } // Dates -> ISO strings

  function Bridge(options) {
    var o = {};
    Object.keys(DEFAULTS).forEach(function (k) { o[k] = options[k] !== undefined ? options[k] : DEFAULTS[k]; });
    if (!options.hubUrl) throw new Error('ConnectHubBridge: hubUrl is required');
    if (!options.token) throw new Error('ConnectHubBridge: token is required (a string or a function returning one)');
    this.options = o;
    this.hubUrl = String(options.hubUrl).replace(/\/+$/, '');
    this.token = options.token;
    this.onStatus = typeof options.onStatus === 'function' ? options.onStatus : null;
    this.connect = options.connect || global.connect;
    this.queue = [];
    this.agent = null;            // {agentARN, username} of the first agent data
    this.nextSeq = 0;
    this.inFlight = 0;             // items of the request in flight (at the head of the queue)
    this.timer = null;
    this.attempt = 0;
    this.refreshed = false;
    this.stats = { state: 'running', queued: 0, sent: 0, acked: 0, applied: 0, duplicate: 0, stale: 0,
      retries: 0, dropped: 0, rejected: 0, httpStatus: null, lastError: null };
    this._unsubscribe = [];
    this._pendingLogs = null;
  }

  Bridge.prototype.start = function () {
    if (this.started) return this;
    this.started = true;
    var self = this;
    var c = this.connect;
    if (!c || !c.core || typeof c.core.getEventBus !== 'function') {
      throw new Error('ConnectHubBridge: load the Streams library and call connect.core.initCCP first');
    }
    var bus = c.core.getEventBus();
    if (!bus) throw new Error('ConnectHubBridge: connect.core.initCCP has not been called yet');
    var sub = bus.subscribe(c.AgentEvents.UPDATE, function (agentData) { self._onAgentData(agentData); });
    this._unsubscribe.push(function () { sub.unsubscribe(); });
    // Agent data that arrived before start(): send the current one first.
    try {
      var provider = c.core.getAgentDataProvider && c.core.getAgentDataProvider();
      var current = provider && provider.getAgentData && provider.getAgentData();
      if (current && current.snapshot) this._onAgentData(current);
    } catch (e) { /* not initialised yet */ }
    if (this.options.logLevel) this._wrapLogger();
    this._onOnline = function () { self._wake(); };
    this._onPageHide = function () { self._flushOnPageHide(); };
    global.addEventListener('online', this._onOnline);
    global.addEventListener('pagehide', this._onPageHide);
    this._report();
    return this;
  };

  Bridge.prototype.stop = function (state) {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this._unsubscribe.forEach(function (f) { try { f(); } catch (e) { /* ignore */ } });
    this._unsubscribe = [];
    global.removeEventListener('online', this._onOnline);
    global.removeEventListener('pagehide', this._onPageHide);
    this.stats.state = state || 'stopped';
    this._report();
  };

  // ---------------------------------------------------------------------------------- capture
  Bridge.prototype._onAgentData = function (agentData) {
    if (!agentData || !agentData.snapshot) return;
    var data = toJson({ snapshot: agentData.snapshot, configuration: agentData.configuration || {} });
    var cfg = data.configuration;
    if (!this.agent && (cfg.agentARN || cfg.username)) {
      this.agent = { agentARN: cfg.agentARN || null, username: cfg.username || null };
      this._initSeq();
    }
    this._enqueue({ kind: 'data', seq: 0, payload: data, bytes: 0 });
  };

  Bridge.prototype._wrapLogger = function () {
    var self = this;
    var logger = this.connect.getLog();
    var original = logger.addLogEntry;
    var min = LEVELS[String(this.options.logLevel).toUpperCase()];
    if (min === undefined) min = LEVELS.INFO;
    logger.addLogEntry = function (entry) {
      var result = original.apply(this, arguments);
      try {
        if (entry && (LEVELS[entry.level] === undefined || LEVELS[entry.level] >= min)) self._onLogEntry(toJson(entry));
      } catch (e) { /* never break the library's logging */ }
      return result;
    };
    this._unsubscribe.push(function () { logger.addLogEntry = original; });
  };

  Bridge.prototype._onLogEntry = function (entry) {
    if (typeof entry.level !== 'string' || typeof entry.text !== 'string') return;
    var item = this._pendingLogs;
    if (!item || item.payload.length >= this.options.maxLogEntriesPerItem) {
      item = { kind: 'logs', seq: 0, payload: [], bytes: 0 };
      this._pendingLogs = item;
      this._enqueue(item);
    }
    item.payload.push(entry);
    item.bytes = 0;
  };

  Bridge.prototype._enqueue = function (item) {
    var q = this.queue;
    if (item.kind === 'data') this._pendingLogs = null; // later log entries go after this snapshot
    q.push(item);
    while (q.length > this.options.maxQueue) {
      var victim = -1;
      for (var i = this.inFlight; i < q.length - 1; i++) { if (q[i].kind === 'logs') { victim = i; break; } }
      if (victim < 0) victim = this.inFlight;
      if (q[victim] === this._pendingLogs) this._pendingLogs = null;
      q.splice(victim, 1);
      this.stats.dropped++;
    }
    this._report();
    var self = this;
    Promise.resolve().then(function () { self._pump(); }); // one burst of events, one request
  };

  // ---------------------------------------------------------------------------------- sequence
  Bridge.prototype._agentId = function () { return this.agent.agentARN || this.agent.username; };

  Bridge.prototype._initSeq = function () {
    // Increasing per agent across page loads: the page clock in microseconds, and never below what
    // this browser already used for the agent.
    var stored = 0;
    try { stored = Number(global.localStorage.getItem(STORAGE_PREFIX + this._agentId())) || 0; } catch (e) { /* no storage */ }
    this.nextSeq = Math.max(now() * 1000, stored + 1);
  };

  Bridge.prototype._assignSeq = function (item) {
    if (item.seq) return;
    item.seq = this.nextSeq++;
    try { global.localStorage.setItem(STORAGE_PREFIX + this._agentId(), String(item.seq)); } catch (e) { /* ignore */ }
  };

  // ---------------------------------------------------------------------------------- sending
  Bridge.prototype._batch = function (maxBytes) {
    var q = this.queue;
    var kind = q[0].kind;
    var items = [];
    var bytes = 0;
    for (var i = 0; i < q.length && items.length < this.options.maxBatchItems && q[i].kind === kind; i++) {
      var it = q[i];
      if (it === this._pendingLogs) this._pendingLogs = null; // sealed: new entries start a new item
      this._assignSeq(it);
      var wire = { seq: it.seq, key: this._agentId() + '#' + it.seq };
      wire[kind === 'data' ? 'agentData' : 'entries'] = it.payload;
      var size = JSON.stringify(wire).length;
      if (items.length && bytes + size > maxBytes) break;
      items.push(wire);
      bytes += size;
    }
    var body = { agent: this.agent, items: items, bridgeVersion: BRIDGE_VERSION,
      streamsVersion: this.connect.version || null, sentAt: new Date().toISOString() };
    return { path: kind === 'data' ? '/bridge/agent-data' : '/bridge/logs', count: items.length, body: JSON.stringify(body) };
  };

  Bridge.prototype._token = function () {
    var t = this.token;
    return Promise.resolve(typeof t === 'function' ? t() : t);
  };

  Bridge.prototype._pump = function () {
    var self = this;
    if (this.inFlight || this.timer || this.stats.state !== 'running' || !this.agent || !this.queue.length) return;
    var batch = this._batch(this.options.maxBatchBytes);
    this.inFlight = batch.count;
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timeout = controller ? setTimeout(function () { controller.abort(); }, this.options.requestTimeoutMs) : null;
    this.stats.sent++;
    this._token().then(function (token) {
      return fetch(self.hubUrl + batch.path, {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
        body: batch.body,
        signal: controller ? controller.signal : undefined,
      });
    }).then(function (response) {
      return response.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
        return { status: response.status, json: json, retryAfter: response.headers.get('Retry-After') };
      });
    }).then(function (r) {
      if (timeout) clearTimeout(timeout);
      self.inFlight = 0;
      self._handle(batch, r);
    }, function (err) {
      if (timeout) clearTimeout(timeout);
      self.inFlight = 0;
      self._retry(null, 'network error: ' + (err && err.message ? err.message : String(err)), null);
    });
  };

  Bridge.prototype._handle = function (batch, r) {
    var s = this.stats;
    s.httpStatus = r.status;
    if (r.status >= 200 && r.status < 300) {
      this.queue.splice(0, batch.count);
      this.attempt = 0;
      this.refreshed = false;
      s.acked += batch.count;
      if (r.json) { s.applied += r.json.applied || 0; s.duplicate += r.json.duplicate || 0; s.stale += r.json.stale || 0; }
      this._report();
      this._pump();
      return;
    }
    var reason = r.json && r.json.error ? r.json.error : 'HTTP ' + r.status;
    if (r.status === 401 && typeof this.token === 'function' && !this.refreshed) {
      this.refreshed = true; // ask the page for a fresh token once, then give up
      this._pump();
      return;
    }
    if (r.status === 401 || r.status === 403) {
      // Stop sending (no retries) and report; capturing goes on (bounded), resume() with a new token.
      s.lastError = reason;
      s.state = r.status === 401 ? 'unauthorized' : 'forbidden';
      if (global.console) global.console.error('[connect-hub-bridge] stopped: hub answered ' + r.status);
      this._report();
      return;
    }
    if (r.status === 429 || r.status >= 500 || r.status === 408) {
      this._retry(r.status, reason, r.retryAfter);
      return;
    }
    if (r.status === 413 && batch.count > 1) {
      this.options.maxBatchItems = Math.max(1, Math.floor(batch.count / 2));
      this._pump();
      return;
    }
    // Any other 4xx: the hub will never accept these items; drop them so the rest can flow.
    this.queue.splice(0, batch.count);
    s.rejected += batch.count;
    s.lastError = reason;
    if (global.console) global.console.warn('[connect-hub-bridge] hub rejected ' + batch.count + ' item(s): ' + reason);
    this._report();
    this._pump();
  };

  Bridge.prototype._retry = function (status, reason, retryAfter) {
    var self = this;
    var o = this.options;
    this.stats.retries++;
    this.stats.lastError = reason;
    this.stats.httpStatus = status;
    var cap = Math.min(o.maxBackoffMs, o.minBackoffMs * Math.pow(2, this.attempt));
    this.attempt = Math.min(this.attempt + 1, 30);
    var delay = cap / 2 + Math.random() * (cap / 2); // exponential backoff, jitter over the upper half
    var hinted = Number(retryAfter) * 1000;
    if (hinted > 0) delay = Math.min(Math.max(delay, hinted), o.maxBackoffMs);
    this.stats.state = 'running';
    this.timer = setTimeout(function () { self.timer = null; self._pump(); }, delay);
    this._report();
  };

  Bridge.prototype._wake = function () {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.attempt = 0;
    this._pump();
  };

  Bridge.prototype._flushOnPageHide = function () {
    if (this.stats.state !== 'running' || !this.agent || !this.queue.length || this.inFlight) return;
    var self = this;
    var batch = this._batch(this.options.keepaliveBytes - 1024);
    var token = typeof this.token === 'function' ? null : this.token;
    if (!token) return;
    try {
      fetch(self.hubUrl + batch.path, {
        method: 'POST', mode: 'cors', credentials: 'omit', keepalive: true,
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
        body: batch.body,
      }).catch(function () { /* the page is gone */ });
    } catch (e) { /* ignore */ }
  };

  Bridge.prototype._report = function () {
    var s = this.stats;
    s.queued = this.queue.length;
    var snapshot = toJson(s);
    if (this.onStatus) { try { this.onStatus(snapshot); } catch (e) { /* ignore */ } }
    try { global.dispatchEvent(new CustomEvent('connect-hub-bridge', { detail: snapshot })); } catch (e) { /* ignore */ }
  };

  // ---------------------------------------------------------------------------------- public API
  var current = null;
  global.ConnectHubBridge = {
    version: BRIDGE_VERSION,
    /** Start forwarding; options: {hubUrl, token, onStatus?, logLevel?, maxQueue?, minBackoffMs?, maxBackoffMs?}. */
    start: function (options) {
      if (current) current.stop('stopped');
      current = new Bridge(options || {}).start();
      return toJson(current.stats);
    },
    /** After a 401/403: continue with a new token ({token}), keeping what was queued meanwhile. */
    resume: function (options) {
      if (!current) throw new Error('ConnectHubBridge: not started');
      if (options && options.token) current.token = options.token;
      current.stats.state = 'running';
      current.refreshed = false;
      current._wake();
      current._report();
      return toJson(current.stats);
    },
    stop: function () { if (current) current.stop('stopped'); },
    status: function () {
      if (!current) return null;
      current.stats.queued = current.queue.length;
      return toJson(current.stats);
    },
  };
})(typeof window !== 'undefined' ? window : this);
