/*
 * Test-only (after the browser recipe's fake_ccp.js): plays the CCP side of the page's upstream
 * channel, posting {event: 'agent::update', data: {snapshot, configuration}} as the CCP iframe relays
 * it from its SharedWorker. Every timestamp-typed member (per the CTI model bundled in the library,
 * AWS.Connect) becomes a Date, as in real worker output.
 */
(function () {
  'use strict';
  var port = window.testPage.upstreamPeerPort;
  var fromPage = [];
  port.onmessage = function (e) { fromPage.push(e.data); }; // also starts the port

  var api = new AWS.Connect({ region: 'us-west-2', endpoint: new AWS.Endpoint('http://127.0.0.1:9/unused') }).api;
  var snapshotShape = api.operations.getAgentSnapshot.output.members.snapshot;
  var agentStateShape = api.operations.getAgentStates.output.members.states.member;

  function revive(value, shape) {
    if (value === null || value === undefined || !shape) return value;
    switch (shape.type) {
      case 'structure':
        Object.keys(value).forEach(function (k) { if (shape.members[k]) value[k] = revive(value[k], shape.members[k]); });
        return value;
      case 'list': return Array.isArray(value) ? value.map(function (v) { return revive(v, shape.member); }) : value;
      case 'map': Object.keys(value).forEach(function (k) { value[k] = revive(value[k], shape.value); }); return value;
      case 'timestamp':
        return (typeof value === 'string' || typeof value === 'number') ? AWS.util.date.parseTimestamp(value) : value;
      default: return value;
    }
  }

  window.fakeCcp = {
    fromPage: fromPage,
    pushAgentData: function (snapshot, configuration) {
      var snap = revive(JSON.parse(JSON.stringify(snapshot)), snapshotShape);
      var cfg = JSON.parse(JSON.stringify(configuration || {}));
      if (Array.isArray(cfg.agentStates)) cfg.agentStates = cfg.agentStates.map(function (s) { return revive(s, agentStateShape); });
      port.postMessage({ event: 'agent::update', data: { snapshot: snap, configuration: cfg } });
      return snap.snapshotTimestamp instanceof Date;
    },
  };
})();
