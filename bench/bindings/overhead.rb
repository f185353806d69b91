#!/usr/bin/env ruby
# SPDX-License-Identifier: MIT
# Per-call overhead of the Ruby binding against the C call, measured in the
# same run: acp-storage-bench-calls times acp_run_get and acp_event_add on
# the same documents in a store of the same URI, then this script times the
# binding's get_run / add_event, as JSON text and as Hash.
#
#   overhead.rb [--helper PATH] [--uri memory:] [--calls N] [--trials N] [--json]
#
# Overhead = binding ns/call - C ns/call (medians over the trials), both in
# CPU time of the calling thread, so that other processes sharing the cores
# do not count; the cost of the script's own empty loop is subtracted.  The
# library comes from ACP_STORAGE_LIBRARY or the dynamic loader, the plugins
# from ACP_STORAGE_PLUGIN_PATH.  docs/performance.md reports the figures.
require "json"
require "open3"
require "optparse"
require "acp_storage"

RUN = { "run_id" => "3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40", "agent_name" => "weather",
        "session_id" => "sess-42", "status" => "completed",
        "output" => [{ "role" => "agent/weather", "parts" => [
          { "content_type" => "text/plain", "content" => "Sunny, 24\u00b0C.",
            "content_encoding" => "plain" }], "created_at" => "2025-06-01T12:00:02Z" }],
        "created_at" => "2025-06-01T12:00:00Z", "finished_at" => "2025-06-01T12:00:03Z" }.freeze
EVENT = { "type" => "message.part", "part" => { "content_type" => "text/plain", "content" => "Sunny" } }.freeze
RUN_JSON = JSON.generate(RUN)
EVENT_JSON = JSON.generate(EVENT)

opts = { uri: "memory:", calls: 200_000, trials: 7, json: false }
OptionParser.new do |o|
  o.on("--helper PATH") { |v| opts[:helper] = v }
  o.on("--uri URI") { |v| opts[:uri] = v }
  o.on("--calls N", Integer) { |v| opts[:calls] = v }
  o.on("--trials N", Integer) { |v| opts[:trials] = v }
  o.on("--json") { opts[:json] = true }
end.parse!

helper = opts[:helper] || ENV["PATH"].split(":").map { |d| File.join(d, "acp-storage-bench-calls") }
                                        .find { |f| File.executable?(f) } ||
         File.expand_path("../../build/release/bench/bindings/acp-storage-bench-calls", __dir__)
abort "overhead.rb: acp-storage-bench-calls not found; pass --helper PATH" unless File.executable?(helper)

out, err, st = Open3.capture3(helper, opts[:uri], RUN_JSON, EVENT_JSON, opts[:calls].to_s, opts[:trials].to_s)
abort "overhead.rb: #{helper} failed: #{err}" unless st.success?
c = out.lines.to_h { |l| f = l.split; [f[0], Float(f[1])] }

# CPU time of this thread, as the C side measures.
def now_ns
  Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
end

def timed(calls, trials)
  per = Array.new(trials) do |t|
    t0 = now_ns
    calls.times { yield t }
    (now_ns - t0).fdiv(calls)
  end.sort
  [per[trials / 2], per.first, per.last]
end

rows = []
# The loop and the block call alone, subtracted from every figure: the C
# loop has no such cost.
loop_ns = timed(opts[:calls], opts[:trials]) { nil }[0]
AcpStorage::Store.open(opts[:uri]) do |s|
  s.save_run_json(RUN_JSON)
  rid = RUN["run_id"]
  n, tr = opts[:calls], opts[:trials]
  results = {
    %w[get_run JSON\ text] => timed(n, tr) { s.get_run_json(rid) },
    %w[get_run Hash] => timed(n, tr) { s.get_run(rid) },
    %w[add_event JSON\ text] => begin
      ids = Array.new(tr) { |t| "rb-json-#{t}" }
      timed(n, tr) { |t| s.add_event_json(ids[t], EVENT_JSON) }
    end,
    %w[add_event Hash] => begin
      ids = Array.new(tr) { |t| "rb-hash-#{t}" }
      timed(n, tr) { |t| s.add_event(ids[t], EVENT) }
    end
  }
  results.each do |(op, form), times|
    med, lo, hi = times.map { |x| x - loop_ns }
    rows << { binding: "ruby", op: op, form: form, c_ns: c[op], binding_ns: med.round(1),
              min_ns: lo.round(1), max_ns: hi.round(1), overhead_ns: (med - c[op]).round(1) }
  end
end

if opts[:json]
  puts JSON.pretty_generate(uri: opts[:uri], calls: opts[:calls], trials: opts[:trials],
                            loop_ns: loop_ns.round(1), rows: rows)
else
  puts "Ruby #{RUBY_VERSION}, #{opts[:uri]}, #{opts[:calls]} calls x #{opts[:trials]} trials " \
       "(median CPU ns per call; the script's own loop, #{loop_ns.round} ns, subtracted)"
  puts format("%-22s%9s%10s%10s  under 2 us", "operation", "C", "binding", "overhead")
  rows.each do |r|
    puts format("%-22s%9.0f%10.0f%10.0f  %s", "#{r[:op]} (#{r[:form]})", r[:c_ns], r[:binding_ns],
                r[:overhead_ns], r[:overhead_ns] < 2000 ? "yes" : "NO")
  end
end
