-- wrk: batches of 16 decisions per call.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local devices = { "meter-17", "tracker-9", "sensor-4" }
local parts = {}
for i = 1, 16 do
  parts[i] = '{"role":"server","event":"send-data","server":"mtc.example.com","device":"' .. devices[i % 3 + 1] .. '"}'
end
wrk.body = '{"requests":[' .. table.concat(parts, ",") .. ']}'
wrk.path = "/v1/decide/batch"
done = function(summary, latency, requests)
  io.write(string.format("non-200: %d\n", summary.errors.status))
end
