import { parseArgs } from 'node:util';

export interface CrowdOptions {
  match: string;
  viewers: number;
  durationMs: number;
  url: string;
  /** Baseline reactions per second for the whole crowd (moments multiply it). */
  rate: number;
  maxReactions: number;
  allowRemote: boolean;
  seed: number;
  momentEveryMs: number;
  senders: number;
  batch: number;
  live: boolean;
}

export class UsageError extends Error {}

export const USAGE = `Usage: npm run crowd -- --match M [options]

Simulates a crowd reacting to a live match through the EmoStream SDK (batched POST /v1/reactions/batch).

  --match M            match id (required)
  --viewers N          simulated viewers (distinct userIds)              [1000]
  --duration D         how long to run: 500ms, 60s, 2m, 1h               [60s]
  --rate N             baseline reactions/s for the whole crowd          [viewers / 5]
  --max-reactions N    stop after generating this many                   [1000000]
  --url URL            API base URL                                      [http://127.0.0.1:8080]
  --allow-remote       allow a non-loopback URL (off: loopback only)
  --moment-every D     mean gap between big moments (six, wicket, ...)   [12s]
  --seed N             seed for a repeatable crowd                       [random]
  --senders N          concurrent batch senders                          [4]
  --batch N            reactions per batch (the API takes at most 500)   [250]
  --no-live            do not subscribe to the live feed for the status line
  -h, --help           this text

Ctrl-C stops generating, flushes what is queued, prints a summary and exits (twice: exit at once).`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60s", "1.5m", "500ms", "2h"; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new UsageError(`bad duration ${JSON.stringify(text)} (e.g. 500ms, 60s, 2m, 1h)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
  if (!(ms > 0)) throw new UsageError(`duration must be > 0, got ${JSON.stringify(text)}`);
  return ms;
}

function positiveInt(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer in [1, ${max}], got ${JSON.stringify(text)}`);
  return n;
}

/** True for localhost and loopback addresses (127.0.0.0/8, ::1). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h)) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return !!v4 && Number(v4[1]) === 127 && v4.slice(2).every((x) => Number(x) <= 255);
}

/** Parses and validates the command line. Throws UsageError (message for the user) on bad input. */
export function parseCrowdArgs(argv: readonly string[], random: () => number = Math.random): CrowdOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        match: { type: 'string' },
        viewers: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        'max-reactions': { type: 'string' },
        url: { type: 'string' },
        'allow-remote': { type: 'boolean' },
        'moment-every': { type: 'string' },
        seed: { type: 'string' },
        senders: { type: 'string' },
        batch: { type: 'string' },
        live: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const match = values.match;
  if (!match) throw new UsageError('--match is required');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(match)) throw new UsageError(`bad --match ${JSON.stringify(match)}: letters, digits, _ . : - (at most 64)`);
  const viewers = positiveInt('viewers', values.viewers, 1000, 10_000_000);
  let rate = viewers / 5;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    if (!Number.isFinite(rate) || rate <= 0 || rate > 1_000_000) throw new UsageError(`--rate must be a number in (0, 1000000], got ${JSON.stringify(values.rate)}`);
  }
  let url: URL;
  try {
    url = new URL(values.url ?? 'http://127.0.0.1:8080');
  } catch {
    throw new UsageError(`bad --url ${JSON.stringify(values.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http(s), got ${url.protocol}`);
  const allowRemote = values['allow-remote'] ?? false;
  if (!allowRemote && !isLoopbackHost(url.hostname)) {
    throw new UsageError(`refusing non-loopback --url ${url.origin}: this is a load generator; pass --allow-remote if you mean it`);
  }
  let seed = Math.floor(random() * 2 ** 31);
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new UsageError(`--seed must be an integer in [0, 2^32), got ${JSON.stringify(values.seed)}`);
  }
  return {
    match,
    viewers,
    durationMs: parseDuration(values.duration ?? '60s'),
    url: url.origin + url.pathname.replace(/\/$/, ''),
    rate,
    maxReactions: positiveInt('max-reactions', values['max-reactions'], 1_000_000, 1_000_000_000),
    allowRemote,
    seed,
    momentEveryMs: parseDuration(values['moment-every'] ?? '12s'),
    senders: positiveInt('senders', values.senders, 4, 64),
    batch: positiveInt('batch', values.batch, 250, 500),
    live: values.live ?? true,
  };
}
