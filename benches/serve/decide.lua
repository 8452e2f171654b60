-- wrk: one decision per call, cycling over the example facts' three devices.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local devices = { "meter-17", "tracker-9", "sensor-4" }
local n = 0
request = function()
  n = n + 1
  local body = '{"role":"server","event":"send-data","server":"mtc.example.com","device":"' .. devices[n % 3 + 1] .. '"}'
  return wrk.format(nil, "/v1/decide", nil, body)
end
-- Any answer but 200 is an error of the run.
local failed = 0
response = function(status, headers, body)
  if status ~= 200 then failed = failed + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non-200: %d\n", summary.errors.status))
end
