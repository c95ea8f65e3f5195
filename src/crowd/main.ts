// Crowd simulator CLI: `npm run crowd -- --match M --viewers 5000 --duration 60s`.
import { WebSocket } from 'ws';
import { EmoStreamClient, type LiveMessage } from '@emostream/sdk';
import { parseCrowdArgs, USAGE, UsageError, type CrowdOptions } from './args.js';
import { CrowdSimulator } from './simulator.js';
import { num, renderStatus } from './stats.js';

async function fetchCatalog(baseUrl: string): Promise<string[]> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/v1/emojis`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new Error(`cannot reach ${baseUrl} (${(err as Error).message}); is the server running (npm start)?`);
  }
  if (!res.ok) throw new Error(`GET ${baseUrl}/v1/emojis answered ${res.status}`);
  const body = (await res.json()) as { emojis: Array<{ emoji: string }> };
  return body.emojis.map((e) => e.emoji);
}

function topEmoji(u: LiveMessage): string | undefined {
  let best: [string, number] | undefined;
  for (const [e, n] of Object.entries(u.counts)) if (!best || n > best[1]) best = [e, n];
  return best?.[0];
}

async function main(argv: string[]): Promise<number> {
  let opts: CrowdOptions | 'help';
  try {
    opts = parseCrowdArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`crowd: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const emojis = await fetchCatalog(opts.url);
  const out = process.stderr;
  const tty = out.isTTY === true;
  if (opts.rate / opts.viewers > 15) {
    out.write(`crowd: note: ${num(opts.rate)}/s over ${num(opts.viewers)} viewers is ${(opts.rate / opts.viewers).toFixed(1)}/s per user, near the API's per-user limit (USER_RATE_PER_SEC, 20 by default): expect 429s\n`);
  }
  if (opts.rate > 2000) {
    // Every simulated viewer sends from this one machine's address: the per-client bucket sees one client.
    out.write(`crowd: note: ${num(opts.rate)}/s all come from this machine's address, over the API's per-client limit (CLIENT_RATE_PER_SEC, 2000 by default): start the API with a higher CLIENT_RATE_PER_SEC / CLIENT_BURST or expect 429s\n`);
  }
  const sim = new CrowdSimulator({
    baseUrl: opts.url,
    matchId: opts.match,
    viewers: opts.viewers,
    durationMs: opts.durationMs,
    ratePerSec: opts.rate,
    maxReactions: opts.maxReactions,
    seed: opts.seed,
    momentEveryMs: opts.momentEveryMs,
    emojis,
    senders: opts.senders,
    batchSize: opts.batch,
  });
  out.write(
    `crowd: ${num(opts.viewers)} viewers → ${opts.url} match ${opts.match} for ${opts.durationMs / 1000}s, ` +
      `baseline ${num(opts.rate)}/s, ${sim.schedule.length} big moments, seed ${opts.seed}\n`,
  );

  let window: { total: number; viewers: number; top?: string } | undefined;
  const monitor = opts.live ? new EmoStreamClient({ baseUrl: opts.url, userId: 'crowd-monitor', WebSocket: WebSocket as never }) : undefined;
  monitor?.subscribe(opts.match, (u) => {
    const top = topEmoji(u);
    window = { total: u.total, viewers: u.viewers, ...(top ? { top } : {}) };
  });

  let drawn = 0; // status lines currently on screen (TTY)
  const clear = (): void => {
    if (drawn > 0) out.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  const view = () => ({
    elapsedMs: Math.min(sim.elapsedMs, opts.durationMs),
    durationMs: opts.durationMs,
    maxReactions: opts.maxReactions,
    stats: sim.stats,
    acceptedPerSec: sim.accepted.perSecond(Date.now()),
    generatedPerSec: sim.offered.perSecond(Date.now()),
    moments: sim.liveMoments(),
    window,
    stopping: sim.stopping,
  });
  const draw = (): void => {
    const lines = renderStatus(view());
    if (tty) {
      clear();
      const cols = out.columns || 120;
      out.write(lines.map((l) => (l.length > cols ? `${l.slice(0, cols - 1)}…` : l)).join('\n') + '\n');
      drawn = lines.length;
    } else {
      out.write(`${lines.join(' | ')}\n`);
    }
  };
  const say = (line: string): void => {
    if (tty) clear();
    out.write(`${line}\n`);
    if (tty) draw();
  };
  sim.on('moment', (m) => say(`⚡ ${(m.atMs / 1000).toFixed(1)}s ${m.kind}! ${m.emoji} ×${m.intensity} for ${(m.durationMs / 1000).toFixed(1)}s`));

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) {
      out.write('\ncrowd: second Ctrl-C, exiting without flushing\n');
      process.exit(130);
    }
    interrupted = true;
    say(`crowd: Ctrl-C: stopping, flushing ${num(sim.stats.queued)} queued reactions (Ctrl-C again to quit at once)`);
    void sim.stop();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const ticker = setInterval(draw, tty ? 250 : 2000);
  const stats = await sim.run();
  clearInterval(ticker);
  draw();
  await monitor?.close(1000);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);

  const secs = Math.max(sim.elapsedMs, 1) / 1000;
  out.write(
    `\ncrowd: ${interrupted ? 'interrupted' : 'done'} after ${secs.toFixed(1)}s: generated ${num(stats.generated)}, accepted ${num(stats.accepted)} ` +
      `(${num(stats.accepted / secs)}/s), rejected ${num(stats.rejected)}, unsent ${num(stats.queued)}, queue-full ${num(stats.refused)}, ` +
      `retries ${num(stats.retries)} (429: ${num(stats.status429)}, 503: ${num(stats.status503)}, network: ${num(stats.network)})\n`,
  );
  process.stdout.write(`${JSON.stringify({ ...stats, seconds: Number(secs.toFixed(3)), interrupted })}\n`);
  if (interrupted) return 130;
  return stats.rejected > 0 || stats.queued > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`crowd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
