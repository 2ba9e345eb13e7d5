-- wrk script: reservation requests as the snippet sends them, from many visitors.
-- Each request uses one of 20,000 client ids, so the run mixes new visitors with heartbeats.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  local id = "bench-" .. ((counter * 7919) % 20000)
  local body = '{"client_id":"' .. id .. '","page":"http://shop.test/landing?utm_source=google&utm_medium=cpc&utm_campaign=bench"}'
  return wrk.format(nil, nil, nil, body)
end
