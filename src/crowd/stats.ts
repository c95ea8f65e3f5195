/** Counts over a sliding time window: "accepted per second" over the last `windowMs`. */
export class RateMeter {
  readonly #events: Array<[number, number]> = [];
  #sum = 0;

  constructor(private readonly windowMs = 2000) {}

  add(n: number, at: number): void {
    this.#events.push([at, n]);
    this.#sum += n;
    this.#trim(at);
  }

  perSecond(now: number): number {
    this.#trim(now);
    return (this.#sum * 1000) / this.windowMs;
  }

  #trim(now: number): void {
    while (this.#events.length > 0 && this.#events[0]![0] <= now - this.windowMs) this.#sum -= this.#events.shift()![1];
  }
}

export interface CrowdStats {
  generated: number;
  accepted: number;
  /** react() refused: the sender's queue was full (the server is not keeping up). */
  refused: number;
  rejected: number;
  retries: number;
  status429: number;
  status503: number;
  network: number;
  queued: number;
}

export const emptyStats = (): CrowdStats => ({ generated: 0, accepted: 0, refused: 0, rejected: 0, retries: 0, status429: 0, status503: 0, network: 0, queued: 0 });

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const num = (n: number): string => fmt.format(n);

/** `[██████░░░░]` for a fraction in [0, 1]. */
export function progressBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

export interface StatusView {
  elapsedMs: number;
  durationMs: number;
  maxReactions: number;
  stats: CrowdStats;
  acceptedPerSec: number;
  generatedPerSec: number;
  /** Live moments, e.g. "SIX 🔥". */
  moments: string[];
  /** Latest window from the live feed, if subscribed. */
  window?: { total: number; viewers: number; top?: string } | undefined;
  stopping?: boolean;
}

/** The two status lines: progress, then rates and counters. Pure (no ANSI codes). */
export function renderStatus(v: StatusView): [string, string] {
  const byTime = v.elapsedMs / v.durationMs;
  const byCount = v.stats.generated / v.maxReactions;
  const fraction = Math.min(1, Math.max(byTime, byCount));
  const s = v.stats;
  const line1 = [
    progressBar(fraction),
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${(v.elapsedMs / 1000).toFixed(1)}s/${(v.durationMs / 1000).toFixed(0)}s`,
    `generated ${num(s.generated)}`,
    v.stopping ? 'stopping: flushing…' : v.moments.length > 0 ? `⚡ ${v.moments.join(' + ')}` : '',
  ].filter(Boolean).join('  ');
  const line2 = [
    `accepted ${num(s.accepted)} (${num(v.acceptedPerSec)}/s)`,
    `offered ${num(v.generatedPerSec)}/s`,
    `queued ${num(s.queued)}`,
    `retries ${num(s.retries)} (429: ${num(s.status429)}, 503: ${num(s.status503)}, net: ${num(s.network)})`,
    s.rejected > 0 ? `rejected ${num(s.rejected)}` : '',
    s.refused > 0 ? `queue-full ${num(s.refused)}` : '',
    v.window ? `window: ${num(v.window.total)}${v.window.top ? ` ${v.window.top}` : ''} · ${num(v.window.viewers)} watching` : '',
  ].filter(Boolean).join('  ');
  return [line1, line2];
}
