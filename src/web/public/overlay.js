// Overlay: each live window's `units` become floating emoji sprites; a big jump throws a burst.
// One requestAnimationFrame loop moves every sprite with transforms only (compositor friendly).
import { EmoStreamClient } from '/assets/emostream-sdk.js';
import { BurstDetector, burstSprites } from '/lib/burst.js';
import { overlayOptions } from '/lib/options.js';
import { needsSeek, parsePlayheadMessage, playheadOptions } from '/lib/archive.js';

const o = overlayOptions(location.search);
const body = document.body;
body.dataset.position = o.position;
body.dataset.theme = o.theme;
body.dataset.bg = o.bg === 'transparent' ? 'transparent' : 'solid';
if (o.bg.startsWith('#')) body.style.background = o.bg;
body.style.setProperty('--size', `${o.size}px`);
document.documentElement.style.background = o.bg === 'transparent' ? 'transparent' : '';

const stage = document.getElementById('stage');
const burstEl = document.getElementById('burst');
const sentimentEl = document.getElementById('sentiment');
const conn = document.getElementById('conn');
sentimentEl.hidden = !o.sentiment;

let W = stage.clientWidth;
let H = stage.clientHeight;
new ResizeObserver(() => { W = stage.clientWidth; H = stage.clientHeight; }).observe(stage);

/** @type {Array<{el: HTMLElement, kind: 'rise'|'burst', born: number, life: number, x: number, y: number, vx: number, vy: number, wob: number, freq: number, phase: number, scale: number, spin: number}>} */
const live = [];
/** @type {Array<{at: number, emoji: string}>} */
let pending = [];
const pool = [];
const stats = { updates: 0, bursts: 0, spawned: 0 };
const replayState = { mode: 'live', position: undefined, state: undefined, seeks: 0 };
window.__overlay = { stats, options: o, live: () => live.length, replay: replayState };

const rand = (a, b) => a + Math.random() * (b - a);

function acquire(emoji) {
  const el = pool.pop() ?? Object.assign(document.createElement('span'), { className: 'sprite' });
  el.textContent = emoji;
  el.dataset.emoji = emoji;
  el.style.opacity = '0';
  stage.appendChild(el);
  if (live.length >= o.maxSprites) release(0); // recycle the oldest: new ones always show
  return el;
}

function release(i) {
  const [s] = live.splice(i, 1);
  s.el.remove();
  if (pool.length < 64) pool.push(s.el);
}

function spawnRise(emoji, now) {
  const margin = o.size * 0.6;
  live.push({
    el: acquire(emoji), kind: 'rise', born: now, life: rand(2600, 4200),
    x: rand(margin, Math.max(margin + 1, W - margin - o.size)), y: H + o.size * 0.2,
    vx: 0, vy: -(H * rand(0.55, 0.9)) / 1000, wob: rand(8, 28), freq: rand(0.5, 1.3), phase: rand(0, Math.PI * 2),
    scale: rand(0.75, 1.25), spin: rand(-12, 12),
  });
  stats.spawned++;
}

function spawnBurst(emoji, now, n) {
  const cx = o.position === 'full' ? W / 2 : W * 0.5;
  const cy = H * 0.6;
  for (let i = 0; i < n; i++) {
    const angle = (i / n) * Math.PI * 2 + rand(-0.2, 0.2);
    const speed = rand(0.25, 0.7) * Math.min(1, Math.max(W, 300) / 600); // px per ms
    live.push({
      el: acquire(emoji), kind: 'burst', born: now, life: rand(1400, 2300),
      x: cx, y: cy, vx: Math.cos(angle) * speed, vy: Math.sin(angle) * speed - 0.25,
      wob: 0, freq: 0, phase: 0, scale: rand(0.9, 1.6), spin: rand(-240, 240),
    });
    stats.spawned++;
  }
}

function frame(now) {
  // Due spawns (spread over the window so the swarm flows rather than pulses).
  let i = 0;
  while (i < pending.length && pending[i].at <= now) spawnRise(pending[i++].emoji, now);
  if (i > 0) pending = pending.slice(i);
  for (let k = live.length - 1; k >= 0; k--) {
    const s = live[k];
    const age = now - s.born;
    const t = age / s.life;
    if (t >= 1) { release(k); continue; }
    let x; let y; let scale; let opacity; let rot;
    if (s.kind === 'rise') {
      x = s.x + Math.sin(s.phase + (age / 1000) * s.freq * Math.PI * 2) * s.wob;
      y = s.y + s.vy * age;
      scale = s.scale * (t < 0.12 ? 0.4 + (0.6 * t) / 0.12 : 1);
      opacity = t < 0.1 ? t / 0.1 : t > 0.65 ? Math.max(0, (1 - t) / 0.35) : 1;
      rot = s.spin * Math.sin(s.phase + age / 600);
    } else {
      const a = age / 1000;
      x = s.x + s.vx * age;
      y = s.y + s.vy * age + 0.5 * 900 * a * a; // gravity, px/s²
      scale = s.scale * (1 - 0.3 * t);
      opacity = t > 0.6 ? (1 - t) / 0.4 : 1;
      rot = s.spin * a;
    }
    s.el.style.transform = `translate3d(${x.toFixed(1)}px, ${y.toFixed(1)}px, 0) scale(${scale.toFixed(3)}) rotate(${rot.toFixed(1)}deg)`;
    s.el.style.opacity = opacity.toFixed(3);
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

/** Sprites for one window: units x spritesPerUnit per emoji, capped at maxSprites, interleaved. */
function planSprites(units) {
  const entries = Object.entries(units).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const want = entries.reduce((s, [, n]) => s + n * o.spritesPerUnit, 0);
  const scale = want > o.maxSprites ? o.maxSprites / want : 1;
  const out = [];
  for (const [emoji, n] of entries) {
    const k = Math.max(1, Math.round(n * o.spritesPerUnit * scale));
    for (let j = 0; j < k && out.length < o.maxSprites; j++) out.push(emoji);
  }
  for (let j = out.length - 1; j > 0; j--) { // shuffle
    const r = Math.floor(Math.random() * (j + 1));
    [out[j], out[r]] = [out[r], out[j]];
  }
  return out;
}

const detector = new BurstDetector();
let burstTimer;

function showBurst(u, ratio, now) {
  const [emoji, count] = Object.entries(exactOrUnits(u)).sort((a, b) => b[1] - a[1])[0] ?? ['🔥', u.total];
  stats.bursts++;
  body.dataset.bursts = String(stats.bursts);
  burstEl.querySelector('.burst-emoji').textContent = emoji;
  burstEl.querySelector('.burst-count').textContent = `×${count.toLocaleString()}`;
  burstEl.dataset.emoji = emoji;
  burstEl.hidden = false;
  burstEl.classList.remove('out');
  void burstEl.offsetWidth; // restart the pop-in animation
  burstEl.style.animation = 'none';
  void burstEl.offsetWidth;
  burstEl.style.animation = '';
  clearTimeout(burstTimer);
  burstTimer = setTimeout(() => {
    burstEl.classList.add('out');
    burstTimer = setTimeout(() => { burstEl.hidden = true; burstEl.classList.remove('out'); }, 500);
  }, 2400);
  spawnBurst(emoji, now, burstSprites(ratio, Math.ceil(o.maxSprites / 2)));
}

const FACES = [[0.5, '😄'], [0.15, '🙂'], [-0.15, '😐'], [-0.5, '🙁'], [-Infinity, '😠']];
function showSentiment(s) {
  const track = sentimentEl.querySelector('.sentiment-track');
  const x = ((s + 1) / 2) * (track.clientWidth - 4);
  sentimentEl.querySelector('.sentiment-marker').style.transform = `translateX(${x.toFixed(1)}px)`;
  sentimentEl.querySelector('.sentiment-value').textContent = `${s >= 0 ? '+' : ''}${s.toFixed(2)}`;
  sentimentEl.querySelector('.sentiment-face').textContent = FACES.find(([min]) => s >= min)[1];
  sentimentEl.dataset.value = String(s);
}

function onUpdate(u) {
  stats.updates++;
  body.dataset.updates = String(stats.updates);
  body.dataset.seq = String(u.seq);
  if (o.sentiment) showSentiment(u.sentiment);
  const isSnapshot = u.type === 'snapshot';
  const { burst, ratio } = detector.push(u.total, isSnapshot);
  if (document.hidden) return; // no rAF while hidden: do not pile sprites up
  const now = performance.now();
  if (burst && o.burst) showBurst(u, ratio, now);
  const sprites = planSprites(u.units);
  const spread = Math.min(u.windowEnd - u.windowStart, 2000) * 0.9;
  const fresh = sprites.map((emoji, j) => ({ at: now + (j * spread) / sprites.length + rand(0, 40), emoji }));
  // Anything still pending from an older window goes out now-ish: never fall behind the feed.
  pending = [...pending.map((p) => ({ ...p, at: Math.min(p.at, now + 100) })), ...fresh].sort((a, b) => a.at - b.at);
}

/** The compact profile does not carry exact counts: the units (what the overlay draws) stand in. */
function exactOrUnits(u) {
  return Object.keys(u.counts).length > 0 ? u.counts : u.units;
}

const client = new EmoStreamClient({ baseUrl: location.origin, userId: 'overlay', format: o.format, transport: o.transport });
const onState = (s) => { conn.dataset.state = s; body.dataset.state = s; };

// Live by default. With a playhead (?playhead=MS since the match start, or ?at=EPOCH_MS), or once
// the embedding page posts one, the overlay replays the archived match from there, so a video on
// demand shows the swarm of the live match at the same point of the video.
let liveSub;
let replay;
const ph = playheadOptions(location.search);

/** A seek clears what is on screen: the swarm of the old point has nothing to do with the new one. */
function clearStage() {
  pending = [];
  while (live.length > 0) release(live.length - 1);
}

function startReplay(from) {
  liveSub?.close();
  liveSub = undefined;
  replayState.mode = 'replay';
  body.dataset.mode = 'replay';
  replay = client.replay(o.matchId, onUpdate, {
    ...from,
    speed: ph.speed,
    on: {
      state: onState,
      replay: (m) => {
        replayState.state = m.state;
        replayState.position = m.offsetMs;
        body.dataset.replay = m.state;
        body.dataset.playhead = String(Math.round(m.offsetMs));
      },
    },
  });
}

function followPlayhead(msg) {
  if (!replay) {
    startReplay(msg.at !== undefined ? { at: msg.at } : { offset: msg.offset ?? 0 });
  } else if (msg.at !== undefined || msg.offset !== undefined) {
    const m = replay.match;
    const target = msg.at !== undefined ? msg.at : m ? m.start + msg.offset : undefined;
    if (target === undefined || needsSeek(replay.position, target)) {
      clearStage();
      replayState.seeks++;
      replay.seek(msg.at !== undefined ? { at: msg.at } : { offset: msg.offset });
    }
  }
  if (msg.playing === false) replay.pause();
  if (msg.playing === true) replay.play();
}

window.addEventListener('message', (ev) => {
  const msg = parsePlayheadMessage(ev.data);
  if (msg) followPlayhead(msg);
});

if (ph.replay) startReplay(ph.at !== undefined ? { at: ph.at } : { offset: ph.offset });
else liveSub = client.subscribe(o.matchId, onUpdate, { state: onState });
