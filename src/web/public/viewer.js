// Viewer page: emoji buttons send through the SDK (batched); the live window arrives over WebSocket,
// or Server-Sent Events with ?transport=sse; ?format=compact takes the compact profile (units, no
// exact counts: the list then shows units).
import { EmoStreamClient } from '/assets/emostream-sdk.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const userId = localStorage.getItem('emostream-user') ?? `web-${crypto.randomUUID().slice(0, 12)}`;
localStorage.setItem('emostream-user', userId);

const format = params.get('format') === 'compact' ? 'compact' : 'json';
const transport = params.get('transport') === 'sse' ? 'sse' : 'ws';
const client = new EmoStreamClient({ baseUrl: location.origin, userId, format, transport });
let sent = 0;
let retries = 0;
client.sender.on('sent', (n) => { sent += n; $('sent').textContent = sent; });
setInterval(() => { $('queued').textContent = client.sender.pending; }, 250);
client.sender.on('retry', () => { retries++; $('retries').textContent = retries; });
let rejected = 0;
client.sender.on('rejected', (_err, batch) => { rejected += batch.length; $('rejected').textContent = rejected; $('rejected-wrap').hidden = false; });
let session = 0; // reactions counted in the windows closed since this page joined the match

let matchId = params.get('matchId') ?? 'demo-match';
let sub;
$('match').value = matchId;

function join(id) {
  matchId = id;
  sub?.close();
  session = 0;
  $('session').textContent = '0';
  const keep = `${format === 'compact' ? '&format=compact' : ''}${transport === 'sse' ? '&transport=sse' : ''}`;
  history.replaceState(null, '', `?matchId=${encodeURIComponent(id)}${keep}`);
  $('overlay-link').href = `/overlay?matchId=${encodeURIComponent(id)}`;
  $('dashboard-link').href = `/dashboard?matchId=${encodeURIComponent(id)}`;
  sub = client.subscribe(id, render, {
    state: (s) => { $('state').textContent = s; $('state').dataset.state = s; },
  });
}

function render(u) {
  if (u.type === 'update') {
    session += u.total;
    $('session').textContent = session;
  }
  $('total').textContent = u.total;
  $('sentiment').textContent = u.sentiment.toFixed(2);
  $('viewers').textContent = u.viewers;
  $('seq').textContent = u.seq;
  $('window').textContent = `${new Date(u.windowStart).toLocaleTimeString()} (+${(u.windowEnd - u.windowStart) / 1000}s)`;
  const exact = Object.keys(u.counts).length > 0 ? u.counts : u.units;
  const top = Object.entries(exact).sort((a, b) => b[1] - a[1]).slice(0, 8);
  const max = top[0]?.[1] ?? 1;
  $('top').replaceChildren(...top.map(([emoji, n]) => {
    const li = document.createElement('li');
    li.dataset.emoji = emoji;
    li.innerHTML = `<span class="emoji"></span><div class="bar"></div><span class="num"></span>`;
    li.children[0].textContent = emoji;
    li.children[1].style.width = `${Math.max(4, (100 * n) / max)}%`;
    li.children[2].textContent = `${n} (${u.units[emoji] ?? 0}u)`;
    return li;
  }));
}

const res = await fetch('/v1/emojis');
const { emojis } = await res.json();
$('buttons').replaceChildren(...emojis.map((e) => {
  const b = document.createElement('button');
  b.textContent = e.emoji;
  b.title = e.name;
  b.dataset.emoji = e.emoji;
  b.setAttribute('aria-label', e.name);
  b.addEventListener('click', () => {
    const ok = client.react(matchId, e.emoji);
    $('queued').textContent = ok ? client.sender.pending : 'full';
    b.classList.remove('flash');
    void b.offsetWidth; // restart the animation
    b.classList.add('flash');
  });
  return b;
}));
$('match-form').addEventListener('submit', (ev) => { ev.preventDefault(); join($('match').value.trim()); });
join(matchId);
