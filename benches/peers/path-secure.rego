# The pathsec reference rule in Rego, for the peer benches (evaluated by regorus).
#
# input: role ("server" | "device"), event ("send-data" | "receive-unprotected" | "receive-protected" |
#   "receive-trigger" | "send-trigger"), access_integrity / end_to_end (received triggers), server (FQDN),
#   serving (packed PLMN-ID, absent when unknown), home (packed PLMN-ID), access ("3gpp" | … |
#   "wireline"), link_known, ciphering and integrity (false while unknown), registration ("none" |
#   "agreed" | "mismatch") and, for an agreement, application_security and accept_plain_unciphered.
# data.lists: path_a as network -> access kind -> true (the kinds each List 1 entry vouches for),
# integrity_required and interconnect as objects keyed by packed PLMN-ID, path_b as network -> server ->
# true, interconnect_per_home as home -> visited -> true, server_networks as server -> packed PLMN-ID (the
# servers attached to another network than the device's home).
# The rows are those of docs/method.md.
package pathsec

import rego.v1

# A trigger whose access-layer integrity verified shows integrity on (000, FIG. 11 step 6; row T3).
verified_trigger if {
	input.event == "receive-trigger"
	input.access_integrity == "verified"
}

known if input.link_known

# The second network: the server's, the device's home unless the lists attach it elsewhere (row P12).
second := object.get(data.lists.server_networks, input.server, input.home)

known if verified_trigger

ciphering if input.ciphering

integrity if input.integrity

integrity if verified_trigger

# The first check of the path that fails, or "path-secure" (rows P1-P13).
path := "serving-network-unknown" if {
	not input.serving
} else := "registration-mismatch" if {
	input.registration == "mismatch"
} else := agreed if {
	input.registration == "agreed"
} else := "access-not-protected" if {
	not known
	input.role == "device"
} else := "access-not-protected" if {
	known
	not ciphering
	not integrity
} else := "access-ciphering-off" if {
	known
	input.role == "device"
	input.event == "receive-unprotected"
	not ciphering
} else := "path-a-not-trusted" if {
	not data.lists.path_a[input.serving][input.access]
} else := "access-integrity-off" if {
	known
	not integrity
	data.lists.integrity_required[input.serving]
} else := "path-b-not-trusted" if {
	not data.lists.path_b[second][input.server]
} else := "interconnect-not-trusted" if {
	input.serving != second
	not data.lists.interconnect[input.serving]
	not data.lists.interconnect_per_home[second][input.serving]
} else := "path-secure"

# Following a registration agreement.
agreed := "registration-requires-application-security" if {
	input.application_security
} else := "access-ciphering-off" if {
	input.role == "device"
	not ciphering
	not input.accept_plain_unciphered
} else := "path-secure"

secure if path == "path-secure"

decision := {"action": "protect-trigger", "reason": "event-not-for-role"} if {
	input.role == "device"
	input.event == "send-trigger"
} else := {"action": "discard", "reason": "event-not-for-role"} if {
	input.role == "server"
	input.event == "receive-trigger"
} else := {"action": "accept", "reason": "application-layer-protected"} if {
	input.event == "receive-protected"
} else := {"action": "send-plain", "reason": "path-secure"} if {
	input.event in {"send-data", "send-trigger"}
	secure
} else := {"action": "secure-then-send", "reason": path} if {
	input.event == "send-data"
} else := {"action": "protect-trigger", "reason": path} if {
	input.event == "send-trigger"
} else := {"action": "accept", "reason": "path-secure"} if {
	input.event == "receive-unprotected"
	secure
} else := {"action": "discard-and-secure", "reason": path} if {
	input.event == "receive-unprotected"
} else := trigger

# A trigger received by the device.
trigger := {"action": "discard", "reason": "trigger-integrity-failed"} if {
	input.access_integrity == "failed"
} else := {"action": "discard", "reason": "trigger-end-to-end-invalid"} if {
	input.end_to_end == "invalid"
} else := {"action": "accept", "reason": "trigger-end-to-end-valid"} if {
	input.access_integrity == "absent"
	input.end_to_end == "valid"
} else := {"action": "discard", "reason": "trigger-unprotected"} if {
	input.access_integrity == "absent"
} else := {"action": "accept", "reason": "path-secure"} if {
	secure
} else := {"action": "accept", "reason": "trigger-end-to-end-valid"} if {
	input.end_to_end == "valid"
} else := {"action": "discard", "reason": path}
