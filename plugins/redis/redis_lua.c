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
 *   P w                   hash run_id -> created (8 bytes) + version (8
 *                         bytes, as in the record) + #status (1 byte) +
 *                         status + where the run is indexed: 's'|'n'
 *                         <#agent> ':' agent [session] (layout 1 had
 *                         created + where only: RUN_INDEX reads both)
 *   P i:a                 index of every run
 *   P i:g:<agent>         runs of an agent
 *   P i:s:<session>       runs of a session
 *   P i:gs:<#agent>:<agent><session>   runs of an agent in a session (the
 *                         length keeps ("a:1","x") apart from ("a","1:x"))
 *   P i:t:<status>:<tail> the same per status (tail: a, g:..., s:...,
 *                         gs:...; status names hold no ':'): filtered lists
 *   P v                   string: the layout version (redis_layout.c), 2;
 *                         absent in a layout-1 store
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
 * (acp_storage_plugin.h).  Totals are ZCARD: O(1), or ZLEXCOUNT with a
 * time range: O(log n).
 *
 * Expiry: keys of a run expire by themselves (PEXPIREAT, the same instant
 * for the run and its events, moved on each write), but members of an
 * index cannot.  The run's instant is kept in P x:r, and every script that
 * reads or changes indexes first drops the runs whose instant has passed
 * (purge_runs); P w remembers where each run is indexed, and its version,
 * after its record is gone, so the purge also raises the delete mark as
 * delete_run does.  Inside a script Redis expires keys by the time the script
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
    "end\n"

/* enc/ver_of write and read the 8 bytes of put_time in redis.c: a version
 * in a run record, or in its P w entry (bytes 9-16 of both). */
#define RUN_CODEC                                                                                 \
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

/* Where a run is indexed (its P w entry), and the index keys of that
 * place.  Layout 2: created (8 bytes) + version (8 bytes, as in the record)
 * + one byte #status + status + place; layout 1 (before status indexes):
 * created + place.  place: 's'|'n' <#agent> ':' agent [session].  Every
 * index has a twin per status: P i:t:<status>:<tail> (ACP status names
 * hold no ':'), so a filtered list walks only matching runs. */
#define RUN_INDEX                                                                                 \
    "local function loc_of(agent, session)\n"                                                     \
    "  if session then return 's' .. #agent .. ':' .. agent .. session end\n"                     \
    "  return 'n' .. #agent .. ':' .. agent\n"                                                    \
    "end\n"                                                                                       \
    "local function place_of(loc)\n"                                                              \
    "  local colon = string.find(loc, ':', 2, true)\n"                                            \
    "  local alen = tonumber(string.sub(loc, 2, colon - 1))\n"                                    \
    "  local agent = string.sub(loc, colon + 1, colon + alen)\n"                                  \
    "  if string.sub(loc, 1, 1) == 's' then return agent, string.sub(loc, colon + alen + 1) end\n" \
    "  return agent, nil\n"                                                                       \
    "end\n"                                                                                       \
    "local function tails(agent, session)\n"                                                      \
    "  local t = {'a', 'g:' .. agent}\n"                                                          \
    "  if session then\n"                                                                         \
    "    t[3] = 's:' .. session\n"                                                                \
    "    t[4] = 'gs:' .. #agent .. ':' .. agent .. session\n"                                     \
    "  end\n"                                                                                     \
    "  return t\n"                                                                                \
    "end\n"                                                                                       \
    "local function index_keys(agent, session, status)\n"                                         \
    "  local k = {}\n"                                                                            \
    "  for _, t in ipairs(tails(agent, session)) do\n"                                            \
    "    k[#k + 1] = P .. 'i:' .. t\n"                                                            \
    "    if status then k[#k + 1] = P .. 'i:t:' .. status .. ':' .. t end\n"                      \
    "  end\n"                                                                                     \
    "  return k\n"                                                                                \
    "end\n"                                                                                       \
    "local function where_of(w)\n"                                                                \
    "  if string.byte(w, 9) < 128 then return nil, nil, string.sub(w, 9) end\n"                   \
    "  local sl = string.byte(w, 17)\n"                                                           \
    "  return ver_of(w), string.sub(w, 18, 17 + sl), string.sub(w, 18 + sl)\n"                    \
    "end\n"                                                                                       \
    "local function unindex(id, w)\n"                                                             \
    "  local _, status, loc = where_of(w)\n"                                                      \
    "  local agent, session = place_of(loc)\n"                                                    \
    "  local m = string.sub(w, 1, 8) .. id\n"                                                     \
    "  for _, k in ipairs(index_keys(agent, session, status)) do redis.call('ZREM', k, m) end\n"  \
    "end\n"                                                                                       \
    "local function raise_mark(v)\n"                                                              \
    "  if v > tonumber(redis.call('GET', P .. 'm') or '0') then\n"                                \
    "    redis.call('SET', P .. 'm', num(v))\n"                                                   \
    "  end\n"                                                                                     \
    "end\n"                                                                                       \
    "local function forget(id, w)\n"                                                              \
    "  unindex(id, w)\n"                                                                          \
    "  redis.call('HDEL', P .. 'w', id)\n"                                                        \
    "  local v = where_of(w)\n"                                                                   \
    "  if v then raise_mark(v) end\n"                                                             \
    "end\n"                                                                                       \
    "local xr = P .. 'x:r'\n"                                                                     \
    "local function purge_runs()\n"                                                               \
    "  local bound = '(' .. num(now_ms())\n"                                                      \
    "  while true do\n"                                                                           \
    "    local ids = redis.call('ZRANGEBYSCORE', xr, '-inf', bound, 'LIMIT', 0, 256)\n"           \
    "    if #ids == 0 then return end\n"                                                          \
    "    for _, id in ipairs(ids) do\n"                                                           \
    "      local w = redis.call('HGET', P .. 'w', id)\n"                                          \
    "      if w then forget(id, w) end\n"                                                         \
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

/* Several status indexes in one list order: the first offset + limit
 * members of each in [min, max], newest first, merged; then offset skipped.
 * Members compare byte-wise, as Redis orders them (Lua's own string order
 * follows the server's locale). */
#define LIST_MERGE                                                                                \
    "local function after(a, b)\n"                                                                \
    "  for i = 1, math.min(#a, #b) do\n"                                                          \
    "    local x, y = string.byte(a, i), string.byte(b, i)\n"                                     \
    "    if x ~= y then return x > y end\n"                                                       \
    "  end\n"                                                                                     \
    "  return #a > #b\n"                                                                          \
    "end\n"                                                                                       \
    "local function merged(keys, max, min, offset, limit)\n"                                      \
    "  local lists, at, out = {}, {}, {}\n"                                                       \
    "  local want = math.min(offset + limit, 2 ^ 53)\n"                                           \
    "  for i, k in ipairs(keys) do\n"                                                             \
    "    lists[i] = redis.call('ZREVRANGEBYLEX', k, max, min, 'LIMIT', 0, num(want))\n"           \
    "    at[i] = 1\n"                                                                             \
    "  end\n"                                                                                     \
    "  local skip = offset\n"                                                                     \
    "  while #out < limit do\n"                                                                   \
    "    local best = nil\n"                                                                      \
    "    for i = 1, #lists do\n"                                                                  \
    "      local m = lists[i][at[i]]\n"                                                           \
    "      if m and (not best or after(m, lists[best][at[best]])) then best = i end\n"            \
    "    end\n"                                                                                   \
    "    if not best then break end\n"                                                            \
    "    if skip > 0 then skip = skip - 1 else out[#out + 1] = lists[best][at[best]] end\n"       \
    "    at[best] = at[best] + 1\n"                                                               \
    "  end\n"                                                                                     \
    "  return out\n"                                                                              \
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
    "local function save(id, c8, keep, agent, session, status, doc, ttl, expiring, mode, want)\n" \
    "  local rk, ek = P .. 'r:' .. id, P .. 'e:' .. id\n"                                         \
    "  local cur = redis.call('GET', rk)\n"                                                       \
    "  local stored = 0\n"                                                                        \
    "  if cur then stored = ver_of(cur) end\n"                                                    \
    "  local v\n"                                                                                 \
    "  if mode == 's' or mode == 'n' then\n"                                                      \
    "    if mode == 'n' and stored >= want then return 0, stored end\n"                           \
    "    v = want\n"                                                                              \
    "  else\n"                                                                                    \
    "    if (mode == 'v' and stored ~= want) or (mode == 'a' and stored ~= 0) then\n"             \
    "      return 0, stored\n"                                                                    \
    "    end\n"                                                                                   \
    "    local base = stored\n"                                                                   \
    "    if base == 0 then base = tonumber(redis.call('GET', P .. 'm') or '0') end\n"             \
    "    v = math.max(base + 1, now_us())\n"                                                      \
    "  end\n"                                                                                     \
    "  local wk = P .. 'w'\n"                                                                     \
    "  local old = redis.call('HGET', wk, id)\n"                                                  \
    "  if old and keep == '1' then c8 = string.sub(old, 1, 8) end\n"                              \
    "  local place = string.char(#status) .. status .. loc_of(agent, session)\n"                  \
    "  if not old or string.byte(old, 9) < 128 or string.sub(old, 1, 8) ~= c8 or\n"               \
    "     string.sub(old, 17) ~= place then\n"                                                    \
    "    if old then unindex(id, old) end\n"                                                      \
    "    local m = c8 .. id\n"                                                                    \
    "    for _, k in ipairs(index_keys(agent, session, status)) do\n"                              \
    "      redis.call('ZADD', k, 0, m)\n"                                                          \
    "    end\n"                                                                                   \
    "  end\n"                                                                                     \
    "  redis.call('HSET', wk, id, c8 .. enc(v) .. place)\n"                                       \
    "  redis.call('SET', rk, c8 .. enc(v) .. doc)\n"                                              \
    "  if ttl > 0 then\n"                                                                         \
    "    local at = num(now_ms() + ttl)\n"                                                        \
    "    redis.call('PEXPIREAT', rk, at)\n"                                                       \
    "    redis.call('PEXPIREAT', ek, at)\n"                                                       \
    "    redis.call('ZADD', xr, at, id)\n"                                                        \
    "  elseif expiring and redis.call('ZREM', xr, id) == 1 then\n"                                \
    "    redis.call('PERSIST', ek)\n"                                                             \
    "  end\n"                                                                                     \
    "  return 1, v\n"                                                                             \
    "end\n"

/* Append one event (add_event, add_events); want > 0: only as sequence
 * want (else 0, nothing stored).  With a ttl, the run id gets an x:r entry
 * even without a record, so that a later write without ttl finds what to
 * make permanent.  Runs after purge_runs when expiring: an expired record
 * must leave its indexes before the id is reused. */
#define APPEND_EVENT                                                                              \
    "local function appended(id, ek, rk, n, ttl, expiring)\n"                                    \
    "  if ttl > 0 then\n"                                                                         \
    "    local at = num(now_ms() + ttl)\n"                                                        \
    "    redis.call('PEXPIREAT', ek, at)\n"                                                       \
    "    redis.call('PEXPIREAT', rk, at)\n"                                                       \
    "    redis.call('ZADD', xr, at, id)\n"                                                        \
    "  elseif expiring and redis.call('ZREM', xr, id) == 1 then\n"                                \
    "    redis.call('PERSIST', ek)\n"                                                             \
    "    redis.call('PERSIST', rk)\n"                                                             \
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
     * mode version status -> {1, new version} or {0, stored version} (a failed
     * condition: nothing written; modes: SAVE_RUN). */
    [RD_SAVE_RUN] = PRELUDE RUN_CODEC RUN_INDEX RUN_VERSION SAVE_RUN
    "local session = nil\n"
    "if ARGV[6] == '1' then session = ARGV[7] end\n"
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "local ok, v = save(ARGV[2], ARGV[3], ARGV[4], ARGV[5], session, ARGV[12], ARGV[8],\n"
    "                   tonumber(ARGV[9]), expiring, ARGV[10], tonumber(ARGV[11]))\n"
    "return {ok, v}\n",

    /* delete_run: P id -> number of things removed (0: NOT_FOUND).  The
     * delete mark rises to the removed run's version. */
    [RD_DELETE_RUN] = PRELUDE RUN_CODEC RUN_INDEX
    "local id = ARGV[2]\n"
    "if redis.call('EXISTS', xr) == 1 then\n"
    "  purge_runs()\n"
    "  redis.call('ZREM', xr, id)\n"
    "end\n"
    "local cur = redis.call('GET', P .. 'r:' .. id)\n"
    "if cur then raise_mark(ver_of(cur)) end\n"
    "local n = 0\n"
    "local old = redis.call('HGET', P .. 'w', id)\n"
    "if old then\n"
    "  forget(id, old)\n"
    "  n = 1\n"
    "end\n"
    "return n + redis.call('DEL', P .. 'r:' .. id, P .. 'e:' .. id)\n",

    /* list_runs: P tail page_max total_max min offset limit want_total
     * [status ...] -> {total or -1, run_id, value, run_id, value, ...}.  tail
     * names the index (P i:<tail>, or with statuses their P i:t:<status>:<tail>);
     * the page is the members in [min, page_max] newest first (page_max
     * holds the cursor and the created_until bound), the total those in
     * [min, total_max].  Several statuses: each index's first offset + limit
     * members, merged in list order (members are distinct: a run has one
     * status). */
    [RD_LIST_RUNS] = PRELUDE RUN_CODEC RUN_INDEX LIST_MERGE
    "local tail, page_max, total_max, min = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local offset, limit = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "if redis.call('EXISTS', xr) == 1 then purge_runs() end\n"
    "local keys = {}\n"
    "if #ARGV < 9 then keys[1] = P .. 'i:' .. tail end\n"
    "for i = 9, #ARGV do keys[#keys + 1] = P .. 'i:t:' .. ARGV[i] .. ':' .. tail end\n"
    "local res = {-1}\n"
    "if ARGV[8] == '1' then\n"
    "  local n = 0\n"
    "  for _, k in ipairs(keys) do\n"
    "    if min == '-' and total_max == '+' then n = n + redis.call('ZCARD', k)\n"
    "    else n = n + redis.call('ZLEXCOUNT', k, min, total_max) end\n"
    "  end\n"
    "  res[1] = n\n"
    "end\n"
    "if limit > 0 then\n"
    "  local ms\n"
    "  if #keys == 1 then\n"
    "    ms = redis.call('ZREVRANGEBYLEX', keys[1], page_max, min, 'LIMIT', ARGV[6], ARGV[7])\n"
    "  else\n"
    "    ms = merged(keys, page_max, min, offset, limit)\n"
    "  end\n"
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
    [RD_ADD_EVENT] = PRELUDE RUN_CODEC RUN_INDEX APPEND_EVENT
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
     * agent has_session session doc status -> {1 stored | 0 exists
     * (insert_only)} */
    [RD_SAVE_RUNS] = PRELUDE RUN_CODEC RUN_INDEX RUN_VERSION SAVE_RUN
    "local ttl, only = tonumber(ARGV[2]), ARGV[3] == '1'\n"
    "local expiring = redis.call('EXISTS', xr) == 1\n"
    "if expiring then purge_runs() end\n"
    "local res = {}\n"
    "for i = 4, #ARGV, 8 do\n"
    "  local id = ARGV[i]\n"
    "  local session, mode = nil, '-'\n"
    "  if only then mode = 'a' end\n"
    "  if ARGV[i + 4] == '1' then session = ARGV[i + 5] end\n"
    "  res[#res + 1] = save(id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], session, ARGV[i + 7],\n"
    "                      ARGV[i + 6], ttl, expiring, mode, 0)\n"
    "end\n"
    "return res\n",

    /* add_events: P ttl_ms, then per event: run_id element seq (0: the
     * next) -> {sequence | 0 not the next one} */
    [RD_ADD_EVENTS] = PRELUDE RUN_CODEC RUN_INDEX APPEND_EVENT APPEND_RUN_EVENTS
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

    /* layout: P -> the store's layout (redis_int.h RD_LAYOUT): P v, else 1
     * when runs are indexed (a store of an older plugin), else 0 (none). */
    [RD_LAYOUT] = PRELUDE
    "local v = redis.call('GET', P .. 'v')\n"
    "if v then return tonumber(v) end\n"
    "if redis.call('EXISTS', P .. 'w') == 1 then return 1 end\n"
    "return 0\n",

    /* migrate (layout 1 to 2): P cursor count -> {next cursor, runs moved}.
     * One HSCAN step over P w: each layout-1 entry whose record is live
     * gets its status (from the document) and version, and its status
     * indexes.  The last step (cursor 0) sets P v.  Entries already at
     * layout 2 (saved meanwhile, or seen twice by HSCAN) are left alone;
     * an expired record's entry is left to purge_runs. */
    [RD_MIGRATE] = PRELUDE RUN_CODEC RUN_INDEX
    "local r = redis.call('HSCAN', P .. 'w', ARGV[2], 'COUNT', ARGV[3])\n"
    "local kv, n = r[2], 0\n"
    "for i = 1, #kv, 2 do\n"
    "  local id, w = kv[i], kv[i + 1]\n"
    "  local rec = string.byte(w, 9) < 128 and redis.call('GET', P .. 'r:' .. id)\n"
    "  if rec then\n"
    "    local h = 17\n"
    "    if string.byte(rec, 9) == 123 then h = 9 end\n"
    "    local ok, d = pcall(cjson.decode, string.sub(rec, h))\n"
    "    local st = ok and type(d) == 'table' and d.status\n"
    "    if type(st) == 'string' and #st > 0 and #st < 64 and\n"
    "       not string.find(st, ':', 1, true) then\n"
    "      local loc = string.sub(w, 9)\n"
    "      local agent, session = place_of(loc)\n"
    "      local m = string.sub(w, 1, 8) .. id\n"
    "      for _, t in ipairs(tails(agent, session)) do\n"
    "        redis.call('ZADD', P .. 'i:t:' .. st .. ':' .. t, 0, m)\n"
    "      end\n"
    "      redis.call('HSET', P .. 'w', id,\n"
    "                 string.sub(w, 1, 8) .. enc(ver_of(rec)) .. string.char(#st) .. st .. loc)\n"
    "      n = n + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if r[1] == '0' then redis.call('SET', P .. 'v', ARGV[4]) end\n"
    "return {r[1], n}\n",

    /* ---- stats (redis_stats.c) ---- */

    /* stats_names: P cursor count -> {next cursor, status, agent, ...}: one
     * HSCAN step over P w, each (status, agent) pair once per step (status
     * '' in a layout-1 entry).  Reads only; entries of expired runs may
     * name groups that the count script finds empty. */
    [RD_STATS_NAMES] = PRELUDE RUN_CODEC RUN_INDEX
    "local r = redis.call('HSCAN', P .. 'w', ARGV[2], 'COUNT', ARGV[3])\n"
    "local kv, seen, res = r[2], {}, {r[1]}\n"
    "for i = 2, #kv, 2 do\n"
    "  local _, status, loc = where_of(kv[i])\n"
    "  local agent = place_of(loc)\n"
    "  status = status or ''\n"
    "  local k = #status .. ':' .. status .. agent\n"
    "  if not seen[k] then\n"
    "    seen[k] = true\n"
    "    res[#res + 1] = status\n"
    "    res[#res + 1] = agent\n"
    "  end\n"
    "end\n"
    "return res\n",

    /* stats_count: P n_statuses status... agent... -> {runs, sessions,
     * layout (0: nothing stored), bytes of these indexes, runs of each
     * status, runs of each agent}, after dropping expired entries. */
    [RD_STATS_COUNT] = PRELUDE RUN_CODEC RUN_INDEX SESSION_PURGE
    "if redis.call('EXISTS', xr) == 1 then purge_runs() end\n"
    "purge_sessions()\n"
    "local function mem(k) return redis.call('MEMORY', 'USAGE', k) or 0 end\n"
    "local layout = tonumber(redis.call('GET', P .. 'v') or '0')\n"
    "if layout == 0 and redis.call('EXISTS', P .. 'w') == 1 then layout = 1 end\n"
    "local bytes = 0\n"
    "for _, k in ipairs({'i:a', 'w', 'S', 'x:r', 'x:s', 'm', 'v'}) do\n"
    "  bytes = bytes + mem(P .. k)\n"
    "end\n"
    "local res = {redis.call('ZCARD', P .. 'i:a'), redis.call('ZCARD', P .. 'S'), layout, 0}\n"
    "local ns = tonumber(ARGV[2])\n"
    "for i = 3, #ARGV do\n"
    "  local k = P .. 'i:g:' .. ARGV[i]\n"
    "  if i < 3 + ns then k = P .. 'i:t:' .. ARGV[i] .. ':a' end\n"
    "  res[#res + 1] = redis.call('ZCARD', k)\n"
    "  bytes = bytes + mem(k)\n"
    "end\n"
    "res[4] = bytes\n"
    "return res\n",

    /* stats_walk: P kind after limit -> {last member or '', members, events,
     * bytes}: the next `limit` members of P i:a (kind 'r': each run's event
     * list length, and the memory of its record and list) or of P S (kind
     * 's': each session's document and run index), in byte order after
     * `after` (a ZRANGEBYLEX bound).  Expired entries are dropped first. */
    [RD_STATS_WALK] = PRELUDE RUN_CODEC RUN_INDEX SESSION_PURGE
    "local runs = ARGV[2] == 'r'\n"
    "if runs and redis.call('EXISTS', xr) == 1 then purge_runs() end\n"
    "if not runs then purge_sessions() end\n"
    "local function mem(k) return redis.call('MEMORY', 'USAGE', k) or 0 end\n"
    "local set = runs and P .. 'i:a' or P .. 'S'\n"
    "local ms = redis.call('ZRANGEBYLEX', set, ARGV[3], '+', 'LIMIT', 0, ARGV[4])\n"
    "local events, bytes = 0, 0\n"
    "for _, m in ipairs(ms) do\n"
    "  if runs then\n"
    "    local id = string.sub(m, 9)\n"
    "    events = events + redis.call('LLEN', P .. 'e:' .. id)\n"
    "    bytes = bytes + mem(P .. 'r:' .. id) + mem(P .. 'e:' .. id)\n"
    "  else\n"
    "    bytes = bytes + mem(P .. 's:' .. m) + mem(P .. 'i:s:' .. m)\n"
    "  end\n"
    "end\n"
    "return {ms[#ms] or '', #ms, events, bytes}\n",
};
