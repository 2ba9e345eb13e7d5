-- wrk script: the snippet's reservations from 20,000 visitors who already came (90 % of requests:
-- heartbeats and returns) and new visitors (10 %), each request one visitor's, each visitor from an
-- address of their own (X-Forwarded-For, which the benchmark's node believes from loopback).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local n
  local id
  if math.random() < 0.1 then
    n = math.random(20000, 16000000)
    id = "new-" .. n
  else
    n = math.random(0, 19999)
    id = "v-" .. n
  end
  local address = "10." .. (math.floor(n / 65536) % 256) .. "." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  local body = '{"client_id":"' .. id .. '","page":"http://shop.test/landing?utm_source=google&utm_medium=cpc&utm_campaign=bench"}'
  return wrk.format(nil, nil, {["Content-Type"] = "application/json", ["X-Forwarded-For"] = address}, body)
end
