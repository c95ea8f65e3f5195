// The archive's API as the pages use it (the match timeline, moments, summary) and the overlay's
// playhead: pure helpers, tested in Node (test/web/archive-lib.test.ts).

const MATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** The step (ms, a whole number of windows) that shows a match of `durationMs` in about `target` points. */
export function chooseStep(durationMs, windowMs, target = 600) {
  const windows = Math.max(1, Math.ceil(durationMs / windowMs));
  return windowMs * Math.max(1, Math.ceil(windows / Math.max(1, target)));
}

/** "1:12:40" (h:mm:ss) or "12:40" for an offset into the match in ms. */
export function formatOffset(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * The whole match: its summary, every timeline point (all pages, following nextCursor) at a step
 * that fits about `target` points, and its top moments. Undefined when nothing of it is archived.
 */
export async function loadMatch(fetchFn, matchId, { target = 600, top = 10 } = {}) {
  if (!MATCH_ID.test(matchId)) return undefined;
  const base = `/v1/matches/${encodeURIComponent(matchId)}`;
  const get = async (url) => {
    const res = await fetchFn(url, { headers: { accept: 'application/json' } });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  };
  const summary = await get(`${base}/summary`);
  if (!summary) return undefined;
  const step = chooseStep(summary.durationMs, summary.windowMs, target);
  const points = [];
  let cursor = null;
  for (let page = 0; page < 100; page++) {
    const body = await get(`${base}/timeline?step=${step}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    if (!body) return undefined;
    points.push(...body.points);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  const moments = (await get(`${base}/moments?top=${top}`))?.moments ?? [];
  return { summary, step, points, moments };
}

/**
 * The overlay's playhead from its URL: `playhead` (ms since the match start) or `at` (ms since
 * the epoch) puts it in replay mode; `speed` (0.1..64, default 1); `replay=1` alone starts at 0.
 */
export function playheadOptions(search) {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search;
  const num = (k) => {
    const raw = q.get(k);
    if (raw === null || raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  };
  const offset = num('playhead');
  const at = num('at');
  const speedRaw = num('speed');
  const speed = speedRaw === undefined ? 1 : Math.min(64, Math.max(0.1, speedRaw));
  const replay = offset !== undefined || at !== undefined || q.get('replay') === '1';
  if (!replay) return { replay: false, speed };
  return { replay: true, speed, ...(at !== undefined ? { at } : { offset: Math.max(0, offset ?? 0) }) };
}

/**
 * A playhead posted by the page that embeds the overlay (a VOD player), or null for any other
 * message: `{type: 'emostream:playhead', offset | at, playing?}` (offset in ms since the match start).
 */
export function parsePlayheadMessage(data) {
  if (!data || typeof data !== 'object' || data.type !== 'emostream:playhead') return null;
  const ok = (v) => typeof v === 'number' && Number.isFinite(v);
  const out = {};
  if (ok(data.at)) out.at = data.at;
  else if (ok(data.offset)) out.offset = Math.max(0, data.offset);
  if (typeof data.playing === 'boolean') out.playing = data.playing;
  return Object.keys(out).length > 0 ? out : null;
}

/**
 * Whether the replay must seek to follow the player: players post their time a few times a second
 * and it drifts by network and frame jitter, so only a jump beyond `toleranceMs` is a seek.
 */
export function needsSeek(current, target, toleranceMs = 1500) {
  return current === undefined || Math.abs(current - target) > toleranceMs;
}
