"""The reference `path-secure` policy in Python: the method, exactly.

The same rule as `guest-policies/reference` (Rust), written against the unchanged `wit/` and built with
componentize-py by `scripts/build-python-policy.sh`. It proves the contract is language-neutral: the
host loads it like any other policy, and it passes the same scenario files.

The rows of `docs/method.md`, in order: the serving network must be known (P1); a registration mismatch
is never secure (P2); a standing agreement is followed (P3-P5: a device with its ciphering off secures
anyway unless it accepts plain from this server). Otherwise, what the asking node knows of the device's
access security (P6-P8: a device that does not know fails closed; ciphering or integrity protects path A;
a device receiving unprotected data needs ciphering; a server that was not told takes List 1 as its
statement), List 1 for the device's access kind (P9) and its integrity requirement (P10), the (second
network, server) pair in List 2 (P11), and at the second network or List 3 for every home or for it
(P12); the second network is the server's, the device's home unless the facts name another (P13). The
first check that fails is the reason. Triggers (T1-T7): a failed access-layer integrity check discards; a
verified one checks the lists with integrity known on; otherwise only valid end-to-end protection is
accepted.
"""

from typing import List, Optional

from wit_world import exports
from wit_world.imports.types import (
    AccessIntegrity,
    Action,
    Decision,
    EndToEnd,
    Event_ReceiveProtected,
    Event_ReceiveTrigger,
    Event_ReceiveUnprotected,
    Event_SendData,
    Event_SendTrigger,
    Agreement,
    FactSet,
    LinkState,
    PlmnId,
    Reason,
    Registration_DeviceReport,
    Registration_Mismatch,
    Registration_NetworkView,
    Registration_ServerIndication,
    Request,
    Role,
    TriggerCheck,
)

# The lists of the last loaded fact generation, as sets of the WIT's integer keys; List 1 as
# (network key, access-kind case) pairs, and the networks whose entry asks for integrity.
_path_a: frozenset = frozenset()
_integrity_required: frozenset = frozenset()
_path_b: frozenset = frozenset()
_interconnect: frozenset = frozenset()
_interconnect_per_home: frozenset = frozenset()
# Server handle -> plmn-key of the network it is attached to, for servers not at the device's home.
_server_networks: dict = {}


def _key(plmn: PlmnId) -> int:
    """The WIT's `plmn-key`: the MNC digit count is part of it ("31041" != "310410")."""
    return plmn.mcc << 16 | plmn.mnc << 4 | plmn.mnc_digits


def _path(request: Request) -> Optional[Reason]:
    """None when the entire path is secure, else the first check that failed."""
    attach = request.attach
    if attach.serving is None:
        return Reason.SERVING_NETWORK_UNKNOWN
    registration = request.registration
    if isinstance(registration, Registration_Mismatch):
        return Reason.REGISTRATION_MISMATCH
    link = request.link
    ciphering = link is not None and LinkState.CIPHERING in link
    integrity = link is not None and LinkState.INTEGRITY in link
    device = request.role == Role.DEVICE
    if isinstance(registration, (Registration_NetworkView, Registration_DeviceReport, Registration_ServerIndication)):
        agreement = registration.value
        if Agreement.APPLICATION_SECURITY in agreement:
            return Reason.REGISTRATION_REQUIRES_APPLICATION_SECURITY
        if device and not ciphering and Agreement.ACCEPT_PLAIN_UNCIPHERED not in agreement:
            return Reason.ACCESS_CIPHERING_OFF
        return None
    if link is None:
        if device:
            return Reason.ACCESS_NOT_PROTECTED
    else:
        if not ciphering and not integrity:
            return Reason.ACCESS_NOT_PROTECTED
        if device and isinstance(request.event, Event_ReceiveUnprotected) and not ciphering:
            return Reason.ACCESS_CIPHERING_OFF
    serving = _key(attach.serving)
    home = _server_networks.get(request.server, _key(attach.home))
    if (serving, attach.access.value) not in _path_a:
        return Reason.PATH_A_NOT_TRUSTED
    if link is not None and not integrity and serving in _integrity_required:
        return Reason.ACCESS_INTEGRITY_OFF
    if (home << 32 | request.server) not in _path_b:
        return Reason.PATH_B_NOT_TRUSTED
    if serving != home and serving not in _interconnect and (home << 32 | serving) not in _interconnect_per_home:
        return Reason.INTERCONNECT_NOT_TRUSTED
    return None


def _on_path(request: Request, secure: Action, insecure: Action) -> Decision:
    failed = _path(request)
    return Decision(secure, Reason.PATH_SECURE) if failed is None else Decision(insecure, failed)


def _trigger(request: Request, check: TriggerCheck) -> Decision:
    integrity, end_to_end = check.access_integrity, check.end_to_end
    if integrity == AccessIntegrity.FAILED:
        return Decision(Action.DISCARD, Reason.TRIGGER_INTEGRITY_FAILED)
    if end_to_end == EndToEnd.INVALID:
        return Decision(Action.DISCARD, Reason.TRIGGER_END_TO_END_INVALID)
    if integrity == AccessIntegrity.ABSENT:
        if end_to_end == EndToEnd.VALID:
            return Decision(Action.ACCEPT, Reason.TRIGGER_END_TO_END_VALID)
        return Decision(Action.DISCARD, Reason.TRIGGER_UNPROTECTED)
    # Verified: the check shows integrity on, so the lists are checked with it (000, FIG. 11 step 6).
    flags = (request.link if request.link is not None else LinkState(0)) | LinkState.INTEGRITY
    failed = _path(Request(request.role, request.event, request.server, request.attach, flags, request.registration))
    if failed is None:
        return Decision(Action.ACCEPT, Reason.PATH_SECURE)
    if end_to_end == EndToEnd.VALID:
        return Decision(Action.ACCEPT, Reason.TRIGGER_END_TO_END_VALID)
    return Decision(Action.DISCARD, failed)


def _decide(request: Request) -> Decision:
    role, event = request.role, request.event
    if isinstance(event, Event_SendTrigger) and role == Role.DEVICE:
        return Decision(Action.PROTECT_TRIGGER, Reason.EVENT_NOT_FOR_ROLE)
    if isinstance(event, Event_ReceiveTrigger) and role == Role.SERVER:
        return Decision(Action.DISCARD, Reason.EVENT_NOT_FOR_ROLE)
    if isinstance(event, Event_ReceiveProtected):
        return Decision(Action.ACCEPT, Reason.APPLICATION_LAYER_PROTECTED)
    if isinstance(event, Event_SendData):
        return _on_path(request, Action.SEND_PLAIN, Action.SECURE_THEN_SEND)
    if isinstance(event, Event_ReceiveUnprotected):
        return _on_path(request, Action.ACCEPT, Action.DISCARD_AND_SECURE)
    if isinstance(event, Event_SendTrigger):
        return _on_path(request, Action.SEND_PLAIN, Action.PROTECT_TRIGGER)
    return _trigger(request, event.value)


class Decide(exports.Decide):
    """The `pathsec:policy/decide` export."""

    def load(self, facts: FactSet) -> None:
        global _path_a, _integrity_required, _path_b, _interconnect, _interconnect_per_home, _server_networks
        lists = facts.lists
        # A List 1 entry is `plmn-key << 32 | terms`: bits 0-3 the access kinds, bit 4 integrity-required.
        _path_a = frozenset((entry >> 32, kind) for entry in lists.path_a for kind in range(4) if entry >> kind & 1)
        _integrity_required = frozenset(entry >> 32 for entry in lists.path_a if entry >> 4 & 1)
        _path_b, _interconnect = frozenset(lists.path_b), frozenset(lists.interconnect)
        _interconnect_per_home = frozenset(lists.interconnect_per_home)
        _server_networks = {entry >> 32: entry & 0xFFFFFFFF for entry in facts.server_networks}

    def decide(self, request: Request) -> Decision:
        return _decide(request)

    def decide_batch(self, requests: List[Request]) -> List[Decision]:
        return [_decide(request) for request in requests]
