"""Hook specifications: everything a Connect Hub plugin can implement.

A plugin is a module (or object) whose functions are marked with :data:`hookimpl` and named
after a spec below; it is found through the ``connect_hub`` entry-point group (see
``docs/writing-plugins.md``). Implementations may accept fewer arguments than the spec
(pluggy passes only the ones named), so new arguments can be added without breaking plugins.

Event hooks (``on_*``) run on Celery workers, one *delivery* per (plugin, hook, event): the
hub calls only that plugin's implementation, retries it with backoff when it raises or times
out, and calls a plugin's hooks for one contact in event order. Deliveries are at least once:
use ``ctx.idempotency_key`` to make side effects idempotent. Return values of event hooks are
ignored; hookwrappers are not supported on them (each delivery calls one plugin).

Lifecycle hooks (``hub_*``) run in the hub process and in every worker process, once per plugin,
each isolated: one plugin raising never stops another's.

:data:`EVENT_HOOKS` maps the Streams event names (``agent::state_change``, ``contact::connected``)
and the hub's feed events (``hub::contact_record``, ``hub::contact_event``) to the hook called.
Per-contact twins such as ``contact::connected::<contactId>`` are not mapped: the base event
already reaches the plugin once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import pluggy

if TYPE_CHECKING:
    from dynaconf import Validator

    from hub import Agent, AgentStateChange, Contact, ContactSnapshot, LogEntry
    from hub._context import CheckResult, HookContext, RegisterAction

__all__ = [
    "CONTACT_EVENT",
    "CONTACT_RECORD_EVENT",
    "EVENT_HOOKS",
    "LIFECYCLE_HOOKS",
    "PROJECT_NAME",
    "hook_for_event",
    "hookimpl",
    "hookspec",
]

#: The pluggy project name; also the entry-point group plugins are found under.
PROJECT_NAME: Final = "connect_hub"

#: Marks a hook specification (used only in this module).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marks a hook implementation in a plugin: ``@hookimpl def on_contact_connected(contact, ctx): ...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Event name of a contact record (CTR) received from Kinesis Data Firehose.
CONTACT_RECORD_EVENT: Final = "hub::contact_record"
#: Event name of an Amazon Connect contact event received from EventBridge.
CONTACT_EVENT: Final = "hub::contact_event"


# -------------------------------------------------------------------------------------------
# Initialisation and lifecycle hooks
# -------------------------------------------------------------------------------------------


@hookspec
def hub_settings_validators() -> Iterable[Validator] | None:
    """Return the dynaconf validators for this plugin's settings.

    Called once per plugin at start-up, before the hub or a worker accepts work; the hub runs
    every validator with ``validate_all()`` and refuses to start with one error listing every
    problem, each prefixed with the plugin's name. Validator names are full setting paths:
    the plugin's own table is ``plugins.<plugin name>`` (e.g. ``plugins.example.path``).
    Validators may set defaults (``default=``), which then appear in ``ctx.settings``.

    :return: an iterable of :class:`dynaconf.Validator` (``None`` or empty: nothing to check).

    Example::

        @hookimpl
        def hub_settings_validators():
            return [Validator("plugins.crm.api_url", must_exist=True, startswith="https://")]
    """


@hookspec
def hub_register_actions(register: RegisterAction) -> None:
    """Offer actions to other plugins by calling ``register`` zero or more times.

    Called once per plugin when plugins are loaded (in the hub and in each worker). An action
    registered as ``register(create_ticket)`` by plugin ``crm`` is called by other plugins as
    ``ctx.call_action("crm.create_ticket", subject=...)``; it runs in the caller's worker.

    :param register: ``register(func, *, name=None, description=None)``; ``name`` defaults to
        ``func.__name__`` and must be lowercase ``[a-z][a-z0-9_]*``, unique within the plugin.
    """


@hookspec
def hub_startup(hub: Any, settings: Mapping[str, Any]) -> None:
    """The hub or a worker process has loaded its plugins and validated its settings.

    Called once per process, once per plugin, before the first event hook; create clients,
    open connection pools or warm caches here (not at import time). A plugin registered after
    start-up receives the call when it is registered. (Not a pluggy ``historic`` hook: the hub
    calls each plugin on its own so that one failing start-up is reported against that plugin
    and never stops the others.) A plugin whose ``hub_startup`` raises is reported and disabled
    (fatal with ``plugins.strict``).

    :param hub: the runtime object running the plugins (the hub or a worker); may be ``None``.
    :param settings: this plugin's own settings table, ``plugins.<plugin name>``, validated.
    """


@hookspec
def hub_shutdown(hub: Any) -> None:
    """The hub or worker process is stopping; release what ``hub_startup`` acquired.

    Called once per plugin, each isolated; exceptions are logged and ignored.

    :param hub: the same object ``hub_startup`` received.
    """


@hookspec
def hub_check(settings: Mapping[str, Any]) -> CheckResult | None:
    """Test the plugin's connection with its current settings (``connect-hub config check``).

    Called on demand, once per plugin, in the process that asks. Make one cheap, read-only
    request (authenticate, fetch the account) and report; never change remote data. An
    exception is reported as a failed check with its message.

    :param settings: this plugin's own settings table, ``plugins.<plugin name>``.
    :return: a :class:`hub.plugins.CheckResult`, or ``None`` when there is nothing to check.
    """


# -------------------------------------------------------------------------------------------
# Agent event hooks (Streams AgentEvents)
# -------------------------------------------------------------------------------------------


@hookspec
def on_agent_state_change(agent: Agent, change: AgentStateChange, ctx: HookContext) -> None:
    """The agent's state changed (``agent::state_change``).

    Raised by Streams for every change of the agent's state *name* (Available -> Lunch,
    Available -> Busy, ...), including changes between two not-routable states.

    :param agent: the agent, rebuilt from the agent data stored with the event.
    :param change: the old and new state names (``change.old_state``, ``change.new_state``).
    :param ctx: the delivery context (idempotency key, attempt, logger, settings, actions).
    """


@hookspec
def on_agent_routable(agent: Agent, ctx: HookContext) -> None:
    """The agent became routable: can receive contacts (``agent::routable``).

    :param agent: the agent, rebuilt from the stored agent data.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_not_routable(agent: Agent, ctx: HookContext) -> None:
    """The agent entered a not-routable state such as Lunch or Break (``agent::not_routable``).

    Not raised again for a change from one not-routable state to another; use
    :func:`on_agent_state_change` for those.

    :param agent: the agent, rebuilt from the stored agent data.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_offline(agent: Agent, ctx: HookContext) -> None:
    """The agent went Offline (``agent::offline``).

    :param agent: the agent, rebuilt from the stored agent data.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_error(agent: Agent, ctx: HookContext) -> None:
    """The agent entered an error state such as MissedCallAgent or FailedConnectCustomer (``agent::error``).

    :param agent: the agent, rebuilt from the stored agent data; its state names the error.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_acw(agent: Agent, ctx: HookContext) -> None:
    """The agent entered After Contact Work (``agent::acw``).

    :param agent: the agent, rebuilt from the stored agent data.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_enqueued_next_state(agent: Agent, ctx: HookContext) -> None:
    """A next state was enqueued while the agent is busy (``agent::enqueued_next_state``).

    :param agent: the agent, rebuilt from the stored agent data; its next state is set.
    :param ctx: the delivery context.
    """


@hookspec
def on_agent_cleared_next_state(agent: Agent, ctx: HookContext) -> None:
    """The enqueued next state was cleared (``agent::cleared_next_state``).

    :param agent: the agent, rebuilt from the stored agent data.
    :param ctx: the delivery context.
    """


# -------------------------------------------------------------------------------------------
# Contact event hooks (Streams ContactEvents)
# -------------------------------------------------------------------------------------------


@hookspec
def on_contact_incoming(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """An inbound contact is offered to the agent (``contact::incoming``).

    Raised for inbound calls, chats and tasks while they ring; queue callbacks are
    ``contact::pending`` first.

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent the contact is offered to.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_pending(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """A queue callback is pending for the agent (``contact::pending``).

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent holding the contact.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_connecting(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The contact is connecting (``contact::connecting``).

    An outbound or queue-callback call is dialling, or an inbound contact is being joined.

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent holding the contact.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_accepted(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The agent accepted the contact (``contact::accepted``).

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent who accepted it.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_connected(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The agent and the customer are connected (``contact::connected``).

    The usual moment for a screen pop or for creating the CRM activity.

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the connected agent.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_missed(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The agent missed (or rejected) the contact (``contact::missed``).

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent who missed it.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_ended(contact: Contact | ContactSnapshot, agent: Agent, ctx: HookContext) -> None:
    """The contact ended for the agent (``contact::ended``).

    Raised when the contact leaves an active state, and also (as Streams does) just before
    ``contact::destroyed`` when a contact is removed without passing through an ended state;
    the contact is then a frozen :class:`ContactSnapshot`.

    :param contact: the contact, or its last snapshot when it was already removed.
    :param agent: the agent who held the contact.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_acw(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The contact entered After Contact Work (``contact::acw``).

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent doing the after-contact work.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_destroyed(contact: ContactSnapshot, agent: Agent, ctx: HookContext) -> None:
    """The contact is gone from the agent's data (``contact::destroyed``); the last hook for it.

    :param contact: the frozen snapshot of the contact as it was last seen.
    :param agent: the agent who held the contact.
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_error(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """The contact entered an error state (``contact::error``).

    :param contact: the contact, rebuilt from the stored agent data.
    :param agent: the agent holding the contact.
    :param ctx: the delivery context.
    """


# -------------------------------------------------------------------------------------------
# Log, contact record and contact event hooks
# -------------------------------------------------------------------------------------------


@hookspec
def on_log_entry(entry: LogEntry, ctx: HookContext) -> None:
    """A log entry was written: by the hub's Streams logger or sent by an agent's browser (``log``).

    For log-shipping plugins. Entries are not redacted by the hub.

    :param entry: the log entry (level, component, text, time, attached objects).
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_record(record: Mapping[str, Any], ctx: HookContext) -> None:
    """A contact record (CTR) was received from Kinesis Data Firehose (``hub::contact_record``).

    Contact records arrive 1-2 minutes after a contact and again on every update; the hub
    delivers only the newest copy per (``ContactId``, ``LastUpdateTimestamp``).

    :param record: the contact record as Amazon Connect sends it (``ContactId``, ``Agent``,
        ``Queue``, ``Attributes``, ``DisconnectReason``, ...).
    :param ctx: the delivery context.
    """


@hookspec
def on_contact_event(event: Mapping[str, Any], ctx: HookContext) -> None:
    """An Amazon Connect contact event was received from EventBridge (``hub::contact_event``).

    Contact events are best effort and unordered by AWS's contract; ``ctx.occurred_at`` is the
    event's own time.

    :param event: the EventBridge event (``id``, ``time``, ``detail-type``, ``detail`` with
        ``eventType`` such as ``CONNECTED_TO_AGENT``).
    :param ctx: the delivery context.
    """


# -------------------------------------------------------------------------------------------
# Event name -> hook name
# -------------------------------------------------------------------------------------------

#: Which hook each event calls. Keys are the exact Streams event strings plus the hub's feed
#: events; the dispatcher creates one delivery per (plugin implementing the hook, event).
EVENT_HOOKS: Final[Mapping[str, str]] = {
    "agent::state_change": "on_agent_state_change",
    "agent::routable": "on_agent_routable",
    "agent::not_routable": "on_agent_not_routable",
    "agent::offline": "on_agent_offline",
    "agent::error": "on_agent_error",
    "agent::acw": "on_agent_acw",
    "agent::enqueued_next_state": "on_agent_enqueued_next_state",
    "agent::cleared_next_state": "on_agent_cleared_next_state",
    "contact::incoming": "on_contact_incoming",
    "contact::pending": "on_contact_pending",
    "contact::connecting": "on_contact_connecting",
    "contact::accepted": "on_contact_accepted",
    "contact::connected": "on_contact_connected",
    "contact::missed": "on_contact_missed",
    "contact::ended": "on_contact_ended",
    "contact::acw": "on_contact_acw",
    "contact::destroyed": "on_contact_destroyed",
    "contact::error": "on_contact_error",
    "log": "on_log_entry",
    CONTACT_RECORD_EVENT: "on_contact_record",
    CONTACT_EVENT: "on_contact_event",
}

#: The lifecycle hooks, called in-process and never dispatched as deliveries.
LIFECYCLE_HOOKS: Final = frozenset(
    {"hub_settings_validators", "hub_register_actions", "hub_startup", "hub_shutdown", "hub_check"}
)


def hook_for_event(event: str) -> str | None:
    """Return the hook an event calls, or ``None`` when plugins are not told about it.

    ``None`` for events with no hook (``agent::refresh``, ``contact::init``, ...) and for the
    per-contact twins (``contact::connected::<contactId>``).
    """
    return EVENT_HOOKS.get(event)
