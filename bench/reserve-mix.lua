-- wrk script: the snippet's reservations from 20,000 visitors who already came (90 % of requests:
-- heartbeats and returns) and new visitors (10 %), each request one visitor's.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local id
  if math.random() < 0.1 then
    id = "new-" .. math.random(1, 1000000000)
  else
    id = "v-" .. math.random(0, 19999)
  end
  local body = '{"client_id":"' .. id .. '","page":"http://shop.test/landing?utm_source=google&utm_medium=cpc&utm_campaign=bench"}'
  return wrk.format(nil, nil, nil, body)
end
