// Overlay options from the query string: every value is validated and clamped, never trusted.
export const POSITIONS = ['bottom-right', 'bottom-left', 'top-right', 'top-left', 'full'];
export const THEMES = ['dark', 'light'];
/** The live profile and transport (json / ws by default; compact is a few dozen bytes an update). */
export const FORMATS = ['json', 'compact'];
export const TRANSPORTS = ['ws', 'sse'];
const MATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const COLOR = /^#[0-9a-fA-F]{3,8}$/;

function int(raw, fallback, min, max) {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.round(n))) : fallback;
}

function bool(raw, fallback) {
  if (raw === null || raw === '') return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

/** @param {string | URLSearchParams} search */
export function overlayOptions(search) {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search;
  const matchId = q.get('matchId') ?? '';
  const position = q.get('position') ?? '';
  const theme = q.get('theme') ?? '';
  const bg = q.get('bg') ?? '';
  const format = q.get('format') ?? '';
  const transport = q.get('transport') ?? '';
  return {
    matchId: MATCH_ID.test(matchId) ? matchId : 'demo-match',
    position: POSITIONS.includes(position) ? position : 'bottom-right',
    theme: THEMES.includes(theme) ? theme : 'dark',
    // transparent for OBS / vMix browser sources; a #hex colour (chroma key); else the theme's own.
    bg: bg === 'transparent' ? 'transparent' : COLOR.test(bg) ? bg : 'theme',
    maxSprites: int(q.get('maxSprites'), 80, 1, 400),
    spritesPerUnit: int(q.get('spritesPerUnit'), 2, 1, 20),
    size: int(q.get('size'), 42, 16, 160),
    sentiment: bool(q.get('sentiment'), true),
    burst: bool(q.get('burst'), true),
    format: FORMATS.includes(format) ? format : 'json',
    transport: TRANSPORTS.includes(transport) ? transport : 'ws',
  };
}

/** The query string that reproduces these options (defaults left out), for the embed snippet. */
export function overlayQuery(o) {
  const d = overlayOptions('');
  const q = new URLSearchParams({ matchId: o.matchId });
  for (const k of ['position', 'theme', 'bg', 'maxSprites', 'spritesPerUnit', 'size', 'format', 'transport']) {
    if (o[k] !== undefined && o[k] !== d[k]) q.set(k, String(o[k]));
  }
  if (o.sentiment === false) q.set('sentiment', '0');
  if (o.burst === false) q.set('burst', '0');
  return q.toString();
}

/** An iframe snippet to paste into a page, or the URL to give OBS / vMix as a browser source. */
export function embedSnippet(origin, o, width = 480, height = 720) {
  const src = `${origin}/overlay?${overlayQuery(o)}`.replaceAll('&', '&amp;');
  return `<iframe src="${src}" width="${width}" height="${height}" style="border:0;background:transparent;color-scheme:normal" allowtransparency="true" title="EmoStream live reactions"></iframe>`;
}
