/*
 * Test wiring, standing in for connect.core.initCCP() (after the browser recipe's Part A): the page
 * side of the REAL library (EventBus, AgentDataProvider, MediaFactory, upstream Conduit bridged onto
 * the bus, upstream clients) with one end of a MessageChannel as the upstream instead of the CCP
 * iframe. window.testPage.upstreamPeerPort is the CCP's end (fake_ccp.js plays it).
 *
 * It also records every event the library raises (bus.subscribeAll), summarised as the
 * streams-oracle does, one list per agent::update dispatch, to compare with the hub's engine.
 */
(function () {
  'use strict';
  var HIDDEN = ['log', 'server_bound_internal_log', 'api_metric', 'client_metric', 'click_stream_data',
    'softphone_stats', 'softphone_report', 'client_side_logs', 'api_response', 'master_response'];

  var bus = new connect.EventBus({ logEvents: false });
  connect.core.eventBus = bus;
  connect.core.agentDataProvider = new connect.core.AgentDataProvider(bus);
  connect.core.mediaFactory = new connect.MediaFactory({});
  var channel = new MessageChannel();
  var conduit = new connect.Conduit('TestUpstream', new connect.PortStream(channel.port1), new connect.NullStream());
  channel.port1.start(); // PortStream uses addEventListener: the port needs an explicit start()
  connect.core.upstream = conduit;
  conduit.onAllUpstream(bus.bridge());
  connect.core.client = new connect.UpstreamConduitClient(conduit);
  connect.core.masterClient = new connect.UpstreamConduitMasterClient(conduit);

  function stateOf(getter) { try { var s = getter(); return s ? s.type : null; } catch (e) { return null; } }

  // The streams-oracle's payload summary (oracle.js summarize), the hub's replay.summarize_payload twin.
  function summarize(data, eventName) {
    if (data === null || data === undefined) return null;
    try {
      if (data instanceof connect.ContactSnapshot) {
        return { type: 'ContactSnapshot', contactId: data.getContactId(), state: stateOf(function () { return data.getState(); }) };
      }
      if (data instanceof connect.Contact) {
        var c = { type: 'Contact', contactId: data.getContactId(), state: stateOf(function () { return data.getState(); }) };
        if (c.state === null) c.gone = true;
        return c;
      }
      if (data instanceof connect.Agent) {
        var st = data.getState();
        var ns = data.getNextState();
        var a = { type: data instanceof connect.AgentSnapshot ? 'AgentSnapshot' : 'Agent', state: st.name, stateType: st.type };
        if (ns) a.nextState = ns.name;
        return a;
      }
      if (eventName === connect.AgentEvents.STATE_CHANGE) {
        return { type: 'AgentStateChange', oldState: data.oldState, newState: data.newState, agentIsAgent: data.agent instanceof connect.Agent };
      }
      if (eventName === connect.AgentEvents.UPDATE && data.snapshot) {
        var snap = data.snapshot;
        return {
          type: 'AgentData', state: snap.state && snap.state.name, stateType: snap.state && snap.state.type,
          nextState: snap.nextState ? snap.nextState.name : null,
          contacts: (snap.contacts || []).map(function (x) { return [x.contactId, x.state && x.state.type]; }),
        };
      }
      return { type: 'object', value: JSON.parse(JSON.stringify(data)) };
    } catch (e) {
      return { type: 'unreadable', error: String(e && e.message) };
    }
  }

  var steps = [];
  bus.subscribeAll(function (data, eventName) {
    if (HIDDEN.indexOf(eventName) >= 0) return;
    if (eventName === connect.AgentEvents.UPDATE) steps.push([]);
    if (steps.length) steps[steps.length - 1].push([eventName, summarize(data, eventName)]);
  });

  window.testPage = { ready: true, upstreamPeerPort: channel.port2, libraryEvents: steps };
})();
