"""A Python client of `pathsec serve`, as the README shows it: decide, batch, register a device, and
read /metrics with Prometheus's own OpenMetrics parser. Run by tests/serve.rs against a running
daemon: client.py BASE_URL ADMIN_TOKEN."""

import sys

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

base, token = sys.argv[1], sys.argv[2]
session = requests.Session()

# One decision.
answer = session.post(f"{base}/v1/decide", json={
    "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "meter-17",
}, timeout=5)
answer.raise_for_status()
assert answer.json() == {"action": "send-plain", "reason": "path-secure", "made_by": "active"}, answer.json()

# A batch, in order.
batch = session.post(f"{base}/v1/decide/batch", json={"requests": [
    {"role": "server", "event": "send-data", "server": "mtc.example.com", "device": device}
    for device in ["meter-17", "tracker-9", "sensor-4"]
]}, timeout=5)
batch.raise_for_status()
assert [d["action"] for d in batch.json()["decisions"]] == ["send-plain", "send-plain", "secure-then-send"], batch.json()

# A refusal names the field.
refused = session.post(f"{base}/v1/decide", json={
    "role": "server", "event": "send-data", "server": "mtc.example.com", "device": "nobody",
}, timeout=5)
assert refused.status_code == 404 and refused.json()["field"] == "device", refused.text

# Register a device (administrative: the token over TCP).
put = session.put(f"{base}/v1/devices/valve-3", json={"home": "310410", "serving": "310410",
                  "ciphering": True, "integrity": True}, headers={"Authorization": f"Bearer {token}"}, timeout=5)
put.raise_for_status()
assert put.json() == {"name": "valve-3", "existed": False}, put.json()

# /metrics parses with the OpenMetrics parser and counts what was decided.
text = session.get(f"{base}/metrics", timeout=5).text
families = {family.name: family for family in text_string_to_metric_families(text)}
decisions = families["pathsec_decisions"]
total = sum(sample.value for sample in decisions.samples if sample.name == "pathsec_decisions_total")
assert total >= 4, total
policies = {sample.labels["policy"] for sample in decisions.samples}
assert policies == {"reference"}, policies
assert "pathsec_serve_request_duration_seconds" in families, sorted(families)
assert families["pathsec_build"].type == "info"

status = session.get(f"{base}/v1/status", timeout=5).json()
assert status["policy"] == "reference" and status["devices"] == 4, status
print("client.py: ok")
