"""Which state Streams shows for an agent: its selected status, or a system / error state that
overrides it while voice contacts are ringing, connected or in after-contact work."""

from __future__ import annotations

from hub.simulator.model import VOICE_TYPES, Agent, Leg

__all__ = ["display_state"]

#: (name, type, state id of a configured status or None)
DisplayState = tuple[str, str, str | None]


def _voice_state(leg: Leg) -> DisplayState | None:
    if leg.dialing:
        return ("CallingCustomer", "system", None)
    if leg.state in {"incoming", "pending"}:
        return ("Pending", "not_routable", None)
    if leg.state == "connecting":
        return ("PendingBusy", "system", None)
    if leg.state == "connected":
        return ("Busy", "system", None)
    if leg.state == "ended":
        return ("AfterCallWork", "system", None)
    return None  # missed / rejected / error legs do not override


_PRIORITY = ("Busy", "CallingCustomer", "PendingBusy", "Pending", "AfterCallWork")


def display_state(agent: Agent) -> DisplayState:
    """The ``snapshot.state`` name/type the agent has now.

    Order of precedence: logged out (``Offline``), an error state (``MissedCallAgent``,
    ``FailedConnectAgent``, ... type ``error``), the system state of a voice contact (``PendingBusy``
    while ringing and until the media connects, ``CallingCustomer`` while dialling, ``Busy``
    when connected, ``AfterCallWork`` in ACW, ``Pending`` for an offered callback), and otherwise
    the selected status. Chats and tasks leave the selected status visible, as in the CCP.
    """
    if not agent.logged_in:
        return ("Offline", "offline", "st-offline")
    if agent.error_state is not None:
        return (agent.error_state, "error", None)
    states = [s for leg in agent.legs.values() if leg.contact.type in VOICE_TYPES if (s := _voice_state(leg))]
    if states:
        return min(states, key=lambda s: _PRIORITY.index(s[0]))
    return (agent.selected.name, agent.selected.type, agent.selected.state_id)
