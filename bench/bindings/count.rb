# SPDX-License-Identifier: MIT
# N calls of one binding call, for counting instructions under callgrind
# (count.py tells how): ruby count.rb OP N, OP get_run_json or add_event_json.
require "acp_storage"
require "json"

run = { "run_id" => "3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40", "agent_name" => "weather",
        "session_id" => "sess-42", "status" => "completed",
        "created_at" => "2025-06-01T12:00:00Z" }
event = JSON.generate({ "type" => "message.part",
                        "part" => { "content_type" => "text/plain", "content" => "Sunny" } })
op = ARGV[0]
n = Integer(ARGV[1])
s = AcpStorage::Store.new("memory:")
s.save_run_json(JSON.generate(run))
rid = run["run_id"]
if op == "get_run_json"
  i = 0
  while i < n
    s.get_run_json(rid)
    i += 1
  end
else
  i = 0
  while i < n
    s.add_event_json("count", event)
    i += 1
  end
end
s.close
