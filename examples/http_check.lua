-- SPDX-License-Identifier: MIT
-- wrk script for tpoll_http: every response must be the server's exact
-- "hello" answer. Each wrk thread counts in its own Lua state; done()
-- adds them up and prints one line for http_wrk.sh to judge.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    checked = 0
    invalid = 0
end

function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or body ~= "hello\n" or headers["Content-Length"] ~= "6" then
        invalid = invalid + 1
    end
end

function done(summary, latency, requests)
    local c, i = 0, 0
    for _, t in ipairs(threads) do
        c = c + t:get("checked")
        i = i + t:get("invalid")
    end
    local e = summary.errors
    io.write(string.format(
        "wrk-check: requests=%d checked=%d invalid=%d errors=%d\n",
        summary.requests, c, i,
        e.connect + e.read + e.write + e.status + e.timeout))
end
