/* SPDX-License-Identifier: MIT */
/*
 * redis_lua.c - the server-side scripts of the redis backend.
 *
 * Every write that touches more than one key runs as one Lua script, which
 * Redis executes atomically: no reader ever sees an index entry without its
 * document, or the reverse.  Reads that must first drop expired index
 * entries are scripts too, so that dropping and answering are one step.
 *
 * Keys (P is the configured prefix; every id follows a fixed type tag, so
 * two different (type, id) pairs never give one key; ids are never used in
 * a pattern, since nothing here uses KEYS or SCAN):
 *   P r:<run_id>          string: created (8 bytes) + version (8 bytes,
 *                         encoded as created) + run document; a record
 *                         of an older plugin has no version (its byte 9
 *                         is the document's '{') and reads as version 1
 *   P m                   string: the delete mark (acp_run_version_next),
 *                         absent until a run is deleted
 *   P e:<run_id>          list: stored time (8 bytes) + event document;
 *                         an event's sequence is its position + 1, so
 *                         RPUSH hands out 1, 2, 3, ... atomically
 *   P s:<session_id>      string: session document
 *   P S                   zset of session ids, all scored 0 (byte order)
 *   P w                   hash run_id -> created (8 bytes) + where the run
 *                         is indexed: 's'|'n' <#agent> ':' agent [session]
 *   P i:a                 index of every run
 *   P i:g:<agent>         runs of an agent
 *   P i:s:<session>       runs of a session
 *   P i:gs:<#agent>:<agent><session>   runs of an agent in a session (the
 *                         length keeps ("a:1","x") apart from ("a","1:x"))
 *   P x:r, P x:s          zset run / session id -> expiry instant (ms) of
 *                         its keys, for stores with a ttl (absent without)
 *   P n:<run_id>          pub/sub channel (not a key): add_event publishes
 *                         the new sequence, followers subscribe
 *                         (redis_follow.c)
 *
 * Index members are created (8 bytes: the int64 microseconds with its sign
 * bit flipped, big-endian, so byte order is time order) followed by the
 * run_id, all scored 0.  ZREVRANGEBYLEX then walks newest first with ties
 * by run_id descending byte-wise, exactly, for every instant an int64
 * holds (a double score would round instants after the year 2255), and a
 * keyset cursor is simply an exclusive bound: the order of acp_run_order_cmp
 * (acp_storage_plugin.h).  Totals are ZCARD: O(1).
 *
 * Expiry: keys of a run expire by themselves (PEXPIREAT, the same instant
 * for the run and its events, moved on each write), but members of an
 * index cannot.  The run's instant is kept in P x:r, and every script that
 * reads or changes indexes first drops the runs whose instant has passed
 * (purge_runs); P w remembers where each run is indexed after its record
 * is gone.  Inside a script Redis expires keys by the time the script
 * started, and the purge reads TIME right after, so a record and its x:r
 * entry are live or past together (to the millisecond).  Without any ttl
 * P x:r does not exist, and writes pay one EXISTS for all of this.
 *
 * Scripts build key names from the prefix in ARGV[1] (KEYS is empty): this
 * needs a standalone server (or one shard), not Redis Cluster.
 */
#include "redis_int.h"

/* Helpers shared by the scripts.  `num` prints integers exactly (Redis
 * would print large Lua numbers in exponent form). */
#define PRELUDE                                                                                   \
    "if redis.replicate_commands then redis.replicate_commands() end\n"                           \
    "local P = ARGV[1]\n"                                                                         \
    "local function num(x) return string.format('%.0f', x) end\n"                                 \
    "local function now_ms()\n"                                                                   \
    "  local t = redis.call('TIME')\n"                                                            \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                        \
    "end\n"

/* Run versions (acp_storage_plugin.h, acp_run_version_next, restated
 * here because the script is the atomic step).  Lua numbers are doubles:
 * versions stay below 2^53 (the core refuses larger ones), so they are
 * exact.  enc/ver_of write and read the 8 bytes of put_time in redis.c. */
#define RUN_VERSION                                                                               \
    "local function now_us()\n"                                                                   \
    "  local t = redis.call('TIME')\n"                                                            \
    "  return tonumber(t[1]) * 1000000 + tonumber(t[2])\n"                                        \
    "end\n"                                                                                       \
    "local function enc(v)\n"                                                                     \
    "  local b = {}\n"                                                                            \
    "  for i = 8, 1, -1 do b[i] = v % 256; v = math.floor(v / 256) end\n"                         \
    "  b[1] = b[1] + 128\n"                                                                       \
    "  return string.char(unpack(b))\n"                                                           \
    "end\n"                                                                                       \
    "local function ver_of(rec)\n"                                                                \
    "  if string.byte(rec, 9) == 123 then return 1 end\n"                                         \
    "  local v = string.byte(rec, 9) - 128\n"                                                     \
    "  for i = 10, 16 do v = v * 256 + string.byte(rec, i) end\n"                                 \
    "  return v\n"                                                                                \
    "end\n"

/* Where a run is indexed, and the index keys of that place. */
#define RUN_INDEX                                                                                 \
    "local function loc_of(agent, session)\n"                                                     \
    "  if session then return 's' .. #agent .. ':' .. agent .. session end\n"                     \
    "  return 'n' .. #agent .. ':' .. agent\n"                                                    \
    "end\n"                                                                                       \
    "local function index_keys(agent, session)\n"                                                 \
    "  local k = {P .. 'i:a', P .. 'i:g:' .. agent}\n"                                            \
    "  if session then\n"                                                                         \
    "    k[3] = P .. 'i:s:' .. session\n"                                                         \
    "    k[4] = P .. 'i:gs:' .. #agent .. ':' .. agent .. session\n"                              \
    "  end\n"                                                                                     \
    "  return k\n"                                                                                \
    "end\n"                                                                                       \
    "local function unindex(id, w)\n"                                                             \
    "  local colon = string.find(w, ':', 10, true)\n"                                             \
    "  local alen = tonumber(string.sub(w, 10, colon - 1))\n"                                     \
    "  local agent = string.sub(w, colon + 1, colon + alen)\n"                                    \
    "  local session = nil\n"                                                                     \
    "  if string.sub(w, 9, 9) == 's' then session = string.sub(w, colon + alen + 1) end\n"        \
    "  local m = string.sub(w, 1, 8) .. id\n"                                                     \
    "  for _, k in ipairs(index_keys(agent, session)) do redis.call('ZREM', k, m) end\n"          \
    "end\n"                                                                                       \
    "local xr = P .. 'x:r'\n"                                                                     \
    "local function purge_runs()\n"                                                               \
    "  local bound = '(' .. num(now_ms())\n"                                                      \
    "  while true do\n"                                                                           \
    "    local ids = redis.call('ZRANGEBYSCORE', xr, '-inf', bound, 'LIMIT', 0, 256)\n"           \
    "    if #ids == 0 then return end\n"                                                          \
    "    for _, id in ipairs(ids) do\n"                                                           \
    "      local w = redis.call('HGET', P .. 'w', id)\n"                                          \
    "      if w then\n"                                                                           \
    "        unindex(id, w)\n"                                                                    \
    "        redis.call('HDEL', P .. 'w', id)\n"                                                  \
    "      end\n"                                                                                 \
    "    end\n"                                                                                   \
    "    redis.call('ZREM', xr, unpack(ids))\n"                                                   \
    "  end\n"                                                                                     \
    "end\n"

#define SESSION_PURGE                                                                             \
    "local function purge_sessions()\n"                                                           \
    "  local xs = P .. 'x:s'\n"                                                                   \
    "  if redis.call('EXISTS', xs) == 0 then return end\n"                                        \
    "  local bound = '(' .. num(now_ms())\n"                                                      \
    "  while true do\n"                                                                           \
    "    local ids = redis.call('ZRANGEBYSCORE', xs, '-inf', bound, 'LIMIT', 0, 256)\n"           \
    "    if #ids == 0 then return end\n"                                                          \
    "    redis.call('ZREM', P .. 'S', unpack(ids))\n"                                             \
    "    redis.call('ZREM', xs, unpack(ids))\n"                                                   \
    "  end\n"                                                                                     \
    "end\n"

/* Store one run (save_run, save_runs): the record, its indexes, expiry.
 * Runs after purge_runs when expiring. */
/* Store one run (save_run, save_runs) under the version rule of
 * acp_run_version_next (acp_storage_plugin.h; restated here because the
 * script is the atomic step).  mode: '-' none, 'v' if the stored version is
 * want, 'a' if absent, 's' store version want, 'n' the same only if the
 * stored one is lower.  Returns 1 and the new version, or 0 and the stored
 * one (the condition failed: nothing written).  SET also drops an expiry. */
#define SAVE_RUN                                                                                  \
    "local function save(id, c8, keep, agent, session, doc, ttl, expiring, mode, want)\n" \
    "  local rk, ek = P .. 'r:' .. id, P .. 'e:' .. id\n" \
    "  local cur = redis.call('GET', rk)\n" \
    "  local stored = 0\n" \
    "  if cur then stored = ver_of(cur) end\n" \
    "  local v\n" \
    "  if mode == 's' or mode == 'n' then\n" \
    "    if mode == 'n' and stored >= want then return 0, stored end\n" \
    "    v = want\n" \
    "  else\n" \
    "    if (mode == 'v' and stored ~= want) or (mode == 'a' and stored ~= 0) then\n" \
    "      return 0, stored\n" \
    "    end\n" \
    "    local base = stored\n" \
    "    if base == 0 then base = tonumber(redis.call('GET', P .. 'm') or '0') end\n" \
    "    v = math.max(base + 1, now_us())\n" \
    "  end\n" \
    "  local wk = P .. 'w'\n" \
    "  local old = redis.call('HGET', wk, id)\n" \
    "  if old and keep == '1' then c8 = string.sub(old, 1, 8) end\n" \
    "  local new = c8 .. loc_of(agent, session)\n" \
    "  if old ~= new then\n" \
    "    if old then unindex(id, old) end\n" \
    "    local m = c8 .. id\n" \
    "    for _, k in ipairs(index_keys(agent, session)) do redis.call('ZADD', k, 0, m) end\n" \
    "    redis.call('HSET', wk, id, new)\n" \
    "  end\n" \
    "  redis.call('SET', rk, c8 .. enc(v) .. doc)\n" \
    "  if ttl > 0 then\n" \
    "    local at = num(now_ms() + ttl)\n" \
    "    redis.call('PEXPIREAT', rk, at)\n" \
    "    redis.call('PEXPIREAT', ek, at)\n" \
    "    redis.call('ZADD', xr, at, id)\n" \
    "  elseif expiring and redis.call('ZREM', xr, id) == 1 then\n" \
    "    redis.call('PERSIST', ek)\n" \
    "  end\n" \
    "  return 1, v\n" \
    "end\n"

/* Append one event (add_event, add_events); want > 0: only as sequence
 * want (else 0, nothing stored).  With a ttl, the run id gets an x:r entry
 * even without a record, so that a later write without ttl finds what to
 * make permanent.  Runs after purge_runs when expiring: an expired record
 * must leave its indexes before the id is reused. */
#define APPEND_EVENT                                                                              \
    "local function appended(id, ek, rk, n, ttl, expiring)\n"                                    \
    "  if ttl > 0 then\n"                                                                         \
    "    local at = num(now_ms() + ttl)\n"                                                         \
    "    redis.call('PEXPIREAT', ek, at)\n"                                                        \
    "    redis.call('PEXPIREAT', rk, at)\n"                                                        \
    "    redis.call('ZADD', xr, at, id)\n"                                                         \
    "  elseif expiring and redis.call('ZREM', xr, id) == 1 then\n"                                \
    "    redis.call('PERSIST', ek)\n"                                                              \
    "    redis.call('PERSIST', rk)\n"                                                              \
    "  end\n"                                                                                     \
    "  redis.call('PUBLISH', P .. 'n:' .. id, n)\n"                                               \
    "end\n"                                                                                       \
    "local function append(id, elem, want, ttl, expiring)\n"                                      \
    "  local ek, rk = P .. 'e:' .. id, P .. 'r:' .. id\n"                                          \
    "  if want > 0 and redis.call('LLEN', ek) ~= want - 1 then return 0 end\n"                    \
    "  local n = redis.call('RPUSH', ek, elem)\n"                                                 \
    "  appended(id, ek, rk, n, ttl, expiring)\n"                                                  \
    "  return n\n"                                                                                \
    "end\n"

/* add_events: the consecutive events of one run (ARGV[i], ARGV[i + 3], ...
 * up to ARGV[j]) as append would store them one by one, with one LLEN, one
 * RPUSH per 1000 and one notification (a copy writes runs' events in such
 * groups).  Results into res. */
#define APPEND_RUN_EVENTS                                                                         \
    "local function append_run(id, i, j, ttl, expiring, res)\n"                                   \
    "  local ek, rk = P .. 'e:' .. id, P .. 'r:' .. id\n"                                          \
    "  local n = redis.call('LLEN', ek)\n"                                                        \
    "  local elems = {}\n"                                                                        \
    "  for k = i, j, 3 do\n"                                                                      \
    "    local want = tonumber(ARGV[k + 2])\n"                                                    \
    "    if want > 0 and want ~= n + 1 then\n"                                                    \
    "      res[#res + 1] = 0\n"                                                                   \
    "    else\n"                                                                                  \
    "      n = n + 1\n"                                                                           \
    "      elems[#elems + 1] = ARGV[k + 1]\n"                                                     \
    "      res[#res + 1] = n\n"                                                                   \
    "    end\n"                                                                                   \
    "  end\n"                                                                                     \
    "  if #elems == 0 then return end\n"                                                          \
    "  for k = 1, #elems, 1000 do\n"                                                              \
    "    redis.call('RPUSH', ek, unpack(elems, k, math.min(k + 999, #elems)))\n"                  \
    "  end\n"                                                                                     \
    "  appended(id, ek, rk, n, ttl, expiring)\n"                                                  \
    "end\n"

const char *const rd_scripts[RD_N_SCRIPTS] = {
    /* save_run: P id created8 keep_created agent has_session session doc ttl_ms
     * mode version -> {1, new version} or {0, stored version} (a failed
     * condition: nothing written; modes: SAVE_RUN). */
    [RD_SAVE_RUN] = PRELUDE RUN_INDEX RUN_VERSION SAVE_RUN
    "local session = nil\n"
    "if ARGV[6] == '1' then session = ARGV[7] end\n"
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "local ok, v = save(ARGV[2], ARGV[3], ARGV[4], ARGV[5], session, ARGV[8],\n"
    "                   tonumber(ARGV[9]), expiring, ARGV[10], tonumber(ARGV[11]))\n"
    "return {ok, v}\n",

    /* delete_run: P id -> number of things removed (0: NOT_FOUND).  The
     * delete mark rises to the removed run's version. */
    [RD_DELETE_RUN] = PRELUDE RUN_INDEX RUN_VERSION
    "local id = ARGV[2]\n"
    "if redis.call('EXISTS', xr) == 1 then\n"
    "  purge_runs()\n"
    "  redis.call('ZREM', xr, id)\n"
    "end\n"
    "local cur = redis.call('GET', P .. 'r:' .. id)\n"
    "if cur then\n"
    "  local v = ver_of(cur)\n"
    "  if v > tonumber(redis.call('GET', P .. 'm') or '0') then\n"
    "    redis.call('SET', P .. 'm', num(v))\n"
    "  end\n"
    "end\n"
    "local n = 0\n"
    "local old = redis.call('HGET', P .. 'w', id)\n"
    "if old then\n"
    "  unindex(id, old)\n"
    "  redis.call('HDEL', P .. 'w', id)\n"
    "  n = 1\n"
    "end\n"
    "return n + redis.call('DEL', P .. 'r:' .. id, P .. 'e:' .. id)\n",

    /* list_runs: P index max offset limit want_total
     * -> {total or -1, run_id, value, run_id, value, ...} */
    [RD_LIST_RUNS] = PRELUDE RUN_INDEX
    "local idx, limit = ARGV[2], tonumber(ARGV[5])\n"
    "if redis.call('EXISTS', xr) == 1 then purge_runs() end\n"
    "local res = {-1}\n"
    "if ARGV[6] == '1' then res[1] = redis.call('ZCARD', idx) end\n"
    "if limit > 0 then\n"
    "  local ms = redis.call('ZREVRANGEBYLEX', idx, ARGV[3], '-', 'LIMIT', ARGV[4], limit)\n"
    "  for _, m in ipairs(ms) do\n"
    "    local id = string.sub(m, 9)\n"
    "    local v = redis.call('GET', P .. 'r:' .. id)\n"
    "    if v then\n"
    "      res[#res + 1] = id\n"
    "      res[#res + 1] = v\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return res\n",

    /* add_event: P run_id element ttl_ms -> sequence. */
    [RD_ADD_EVENT] = PRELUDE RUN_INDEX APPEND_EVENT
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "return append(ARGV[2], ARGV[3], 0, tonumber(ARGV[4]), expiring)\n",

    /* save_session: P id doc ttl_ms */
    [RD_SAVE_SESSION] = PRELUDE
    "local id, ttl = ARGV[2], tonumber(ARGV[4])\n"
    "local sk = P .. 's:' .. id\n"
    "redis.call('SET', sk, ARGV[3])\n"
    "redis.call('ZADD', P .. 'S', 0, id)\n"
    "if ttl > 0 then\n"
    "  local at = num(now_ms() + ttl)\n"
    "  redis.call('PEXPIREAT', sk, at)\n"
    "  redis.call('ZADD', P .. 'x:s', at, id)\n"
    "else\n"
    "  redis.call('ZREM', P .. 'x:s', id)\n"
    "end\n"
    "return 1\n",

    /* delete_session: P id -> 1 if it existed */
    [RD_DELETE_SESSION] = PRELUDE
    "local id = ARGV[2]\n"
    "local n = redis.call('DEL', P .. 's:' .. id)\n"
    "redis.call('ZREM', P .. 'S', id)\n"
    "redis.call('ZREM', P .. 'x:s', id)\n"
    "return n\n",

    /* list_sessions: P min limit -> {id, doc, id, doc, ...} */
    [RD_LIST_SESSIONS] = PRELUDE SESSION_PURGE
    "purge_sessions()\n"
    "local ids = redis.call('ZRANGEBYLEX', P .. 'S', ARGV[2], '+', 'LIMIT', 0, ARGV[3])\n"
    "local res = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local d = redis.call('GET', P .. 's:' .. id)\n"
    "  if d then\n"
    "    res[#res + 1] = id\n"
    "    res[#res + 1] = d\n"
    "  end\n"
    "end\n"
    "return res\n",

    /* save_runs: P ttl_ms insert_only, then per run: id created8 keep_created
     * agent has_session session doc -> {1 stored | 0 exists (insert_only)} */
    [RD_SAVE_RUNS] = PRELUDE RUN_INDEX RUN_VERSION SAVE_RUN
    "local ttl, only = tonumber(ARGV[2]), ARGV[3] == '1'\n"
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "local res = {}\n"
    "for i = 4, #ARGV, 7 do\n"
    "  local id = ARGV[i]\n"
    "  local session, mode = nil, '-'\n"
    "  if only then mode = 'a' end\n"
    "  if ARGV[i + 4] == '1' then session = ARGV[i + 5] end\n"
    "  res[#res + 1] = save(id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], session, ARGV[i + 6],\n"
    "                      ttl, expiring, mode, 0)\n"
    "end\n"
    "return res\n",

    /* add_events: P ttl_ms, then per event: run_id element seq (0: the
     * next) -> {sequence | 0 not the next one} */
    [RD_ADD_EVENTS] = PRELUDE RUN_INDEX APPEND_EVENT APPEND_RUN_EVENTS
    "local ttl = tonumber(ARGV[2])\n"
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "local res = {}\n"
    "local i = 3\n"
    "while i <= #ARGV do\n"
    "  local id, j = ARGV[i], i\n"
    "  while ARGV[j + 3] == id do j = j + 3 end\n"
    "  if j == i then\n"
    "    res[#res + 1] = append(id, ARGV[i + 1], tonumber(ARGV[i + 2]), ttl, expiring)\n"
    "  else\n"
    "    append_run(id, i, j, ttl, expiring, res)\n"
    "  end\n"
    "  i = j + 3\n"
    "end\n"
    "return res\n",
};
