/* SPDX-License-Identifier: MIT */
/*
 * baseline_redis_lua.c - the raw Redis baseline's scripts: the redis
 * backend's key layout (see the backend's documentation of it), written
 * for the benchmark's needs only (no expiry, no sessions listing):
 *
 *   P r:<run_id>   string: created (8 bytes) + version (8 bytes) + run document
 *   P m            string: the delete mark (run versions)
 *   P e:<run_id>   list: stored time (8 bytes) + event document
 *   P s:<id>       string: session document;  P S  zset of session ids
 *   P w            hash run_id -> created8 + version8 + #status (1 byte) +
 *                  status + 's'|'n' #agent ':' agent [session]
 *   P i:a, P i:g:<agent>, P i:s:<session>, P i:gs:<#agent>:<agent><session>
 *                  zsets of created8 + run_id, all scored 0, read newest
 *                  first with ZREVRANGEBYLEX; the same per status under
 *                  P i:t:<status>:<a | g:... | s:... | gs:...>
 *   P v            string: the layout version (2), set once at open
 *
 * The backend looks for runs with a ttl on every run write and list (one
 * EXISTS of P x:r) and forgets a session's expiry on save (ZREM P x:s);
 * the scripts here make the same calls, so that the two sides differ by
 * the plugin layer and not by that feature.  bench_redis_layout
 * (bench/redis_layout_check.c) fails when the backend writes other keys.
 */
#include "baseline_redis_lua.h"

/* The index keys of a place (agent, session or nil), and unindexing a run
 * from what P w says about it. */
#define BRD_INDEX                                                                           \
    "local P = ARGV[1]\n"                                                                   \
    "local function index_keys(agent, session, status)\n"                                   \
    "  local t = {'a', 'g:' .. agent}\n"                                                    \
    "  if session then\n"                                                                   \
    "    t[#t + 1] = 's:' .. session\n"                                                     \
    "    t[#t + 1] = 'gs:' .. #agent .. ':' .. agent .. session\n"                          \
    "  end\n"                                                                               \
    "  local k = {}\n"                                                                      \
    "  for _, x in ipairs(t) do\n"                                                          \
    "    k[#k + 1] = P .. 'i:' .. x\n"                                                      \
    "    k[#k + 1] = P .. 'i:t:' .. status .. ':' .. x\n"                                   \
    "  end\n"                                                                               \
    "  return k\n"                                                                          \
    "end\n"                                                                                 \
    "local function drop_index(id, where)\n"                                                \
    "  local sl = string.byte(where, 17)\n"                                                 \
    "  local status, loc = string.sub(where, 18, 17 + sl), string.sub(where, 18 + sl)\n"    \
    "  local colon = string.find(loc, ':', 2, true)\n"                                      \
    "  local n = tonumber(string.sub(loc, 2, colon - 1))\n"                                 \
    "  local agent, session = string.sub(loc, colon + 1, colon + n), nil\n"                 \
    "  if string.sub(loc, 1, 1) == 's' then session = string.sub(loc, colon + n + 1) end\n" \
    "  for _, k in ipairs(index_keys(agent, session, status)) do\n"                         \
    "    redis.call('ZREM', k, string.sub(where, 1, 8) .. id)\n"                            \
    "  end\n"                                                                               \
    "end\n"

/* Run versions, as the backend computes them: max(stored or the delete
 * mark + 1, the server's clock in microseconds), 8 bytes in the record. */
#define BRD_VERSION                                                                         \
    "local function ver_of(rec)\n"                                                          \
    "  if not rec then return 0 end\n"                                                      \
    "  local v = string.byte(rec, 9) - 128\n"                                               \
    "  for i = 10, 16 do v = v * 256 + string.byte(rec, i) end\n"                           \
    "  return v\n"                                                                          \
    "end\n"                                                                                 \
    "local function enc(v)\n"                                                               \
    "  local b = {}\n"                                                                      \
    "  for i = 8, 1, -1 do b[i] = v % 256; v = math.floor(v / 256) end\n"                   \
    "  b[1] = b[1] + 128\n"                                                                 \
    "  return string.char(unpack(b))\n"                                                     \
    "end\n"

const char *const brd_scripts[BRD_N_SCRIPTS] = {
    [BRD_SAVE_RUN] = BRD_INDEX BRD_VERSION
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local id, c8, agent, doc, status = ARGV[2], ARGV[3], ARGV[4], ARGV[7], ARGV[8]\n"
    "local session = nil\n"
    "if ARGV[5] == '1' then session = ARGV[6] end\n"
    "redis.call('EXISTS', P .. 'x:r')\n"
    "local base = ver_of(redis.call('GET', P .. 'r:' .. id))\n"
    "if base == 0 then base = tonumber(redis.call('GET', P .. 'm') or '0') end\n"
    "local t = redis.call('TIME')\n"
    "local v = math.max(base + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))\n"
    "local place = string.char(#status) .. status .. (session and 's' or 'n') .. #agent .. ':'\n"
    "  .. agent .. (session or '')\n"
    "local old = redis.call('HGET', P .. 'w', id)\n"
    "if not old or string.sub(old, 1, 8) ~= c8 or string.sub(old, 17) ~= place then\n"
    "  if old then drop_index(id, old) end\n"
    "  for _, k in ipairs(index_keys(agent, session, status)) do\n"
    "    redis.call('ZADD', k, 0, c8 .. id)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', P .. 'w', id, c8 .. enc(v) .. place)\n"
    "redis.call('SET', P .. 'r:' .. id, c8 .. enc(v) .. doc)\n"
    "return {1, v}\n",

    [BRD_DELETE_RUN] = BRD_INDEX BRD_VERSION
    "local id, n = ARGV[2], 0\n"
    "redis.call('EXISTS', P .. 'x:r')\n"
    "local v = ver_of(redis.call('GET', P .. 'r:' .. id))\n"
    "if v > tonumber(redis.call('GET', P .. 'm') or '0') then\n"
    "  redis.call('SET', P .. 'm', string.format('%.0f', v))\n"
    "end\n"
    "local old = redis.call('HGET', P .. 'w', id)\n"
    "if old then\n"
    "  drop_index(id, old)\n"
    "  redis.call('HDEL', P .. 'w', id)\n"
    "  n = 1\n"
    "end\n"
    "return n + redis.call('DEL', P .. 'r:' .. id, P .. 'e:' .. id)\n",

    [BRD_LIST_RUNS] =
    "local P, idx, limit = ARGV[1], ARGV[2], tonumber(ARGV[4])\n"
    "redis.call('EXISTS', P .. 'x:r')\n"
    "local res = {-1}\n"
    "if ARGV[5] == '1' then res[1] = redis.call('ZCARD', idx) end\n"
    "if limit > 0 then\n"
    "  for _, m in ipairs(redis.call('ZREVRANGEBYLEX', idx, '+', '-', 'LIMIT', ARGV[3], limit)) do\n"
    "    local id = string.sub(m, 9)\n"
    "    local v = redis.call('GET', P .. 'r:' .. id)\n"
    "    if v then\n"
    "      res[#res + 1] = id\n"
    "      res[#res + 1] = v\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return res\n",

    /* RPUSH hands out the sequence; followers hear of it on P n:<run_id>. */
    [BRD_ADD_EVENT] =
    "local P, id = ARGV[1], ARGV[2]\n"
    "redis.call('EXISTS', P .. 'x:r')\n"
    "local n = redis.call('RPUSH', P .. 'e:' .. id, ARGV[3])\n"
    "redis.call('PUBLISH', P .. 'n:' .. id, n)\n"
    "return n\n",

    [BRD_SAVE_SESSION] =
    "local P, id = ARGV[1], ARGV[2]\n"
    "redis.call('SET', P .. 's:' .. id, ARGV[3])\n"
    "redis.call('ZADD', P .. 'S', 0, id)\n"
    "redis.call('ZREM', P .. 'x:s', id)\n"
    "return 1\n",
};
