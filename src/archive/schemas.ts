import { Type, type Static } from 'typebox';
import { ID_PATTERN } from '../domain/types.js';

// Query strings stay strings (the app does not coerce types): numbers are checked by pattern.
const INT = '^-?[0-9]{1,15}$';
const POS_INT = '^[0-9]{1,15}$';

export const MatchParams = Type.Object({ matchId: Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN }) }, { additionalProperties: false });
export type MatchParams = Static<typeof MatchParams>;

const Cursor = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'nextCursor of the previous page' });

export const TimelineQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ pattern: INT, description: 'windows starting at or after, ms since the epoch (default: the match start)' })),
    to: Type.Optional(Type.String({ pattern: INT, description: 'windows starting before, ms since the epoch (default: after the match end)' })),
    step: Type.Optional(Type.String({ pattern: POS_INT, description: 'ms per point; a step shorter than one window is taken as one window (default: one window)' })),
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|[1-4][0-9]{3}|5000)$', description: 'points per page, 1..5000 (default 1000)' })),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type TimelineQuery = Static<typeof TimelineQuery>;

export const MomentsQuery = Type.Object(
  {
    top: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$', description: 'how many moments, 1..100 (default 10)' })),
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$', description: 'moments per page, 1..100 (default: all of top)' })),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type MomentsQuery = Static<typeof MomentsQuery>;

const Counts = Type.Record(Type.String(), Type.Number(), { description: 'exact count per emoji' });

export const TimelinePoint = Type.Object({
  t: Type.Number({ description: 'start of the step, ms since the epoch' }),
  offsetMs: Type.Number({ description: 't − the match start' }),
  windows: Type.Integer(),
  total: Type.Number(),
  counts: Counts,
  sentiment: Type.Number({ description: 'the windows’ sentiment weighted by their totals' }),
});

export const TimelineResponse = Type.Object({
  matchId: Type.String(),
  matchStart: Type.Number(),
  step: Type.Integer(),
  points: Type.Array(TimelinePoint),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const Moment = Type.Object({
  rank: Type.Integer({ minimum: 1 }),
  windowStart: Type.Number(),
  windowEnd: Type.Number(),
  offsetMs: Type.Number({ description: 'windowStart − the match start: where to cut in the video' }),
  total: Type.Number(),
  baseline: Type.Number({ description: 'median total of the 5 minutes before' }),
  score: Type.Number({ description: '(total − baseline) / max(1.4826 · MAD, √baseline, 1)' }),
  dominant: Type.Object({ emoji: Type.String(), count: Type.Number() }),
  counts: Counts,
  sentiment: Type.Number(),
});

export const MomentsResponse = Type.Object({
  matchId: Type.String(),
  matchStart: Type.Number(),
  statistic: Type.String(),
  moments: Type.Array(Moment),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const SummaryResponse = Type.Object({
  matchId: Type.String(),
  matchStart: Type.Number({ description: 'start of the first archived window' }),
  matchEnd: Type.Number({ description: 'end of the last archived window' }),
  durationMs: Type.Number(),
  windowMs: Type.Integer({ description: 'length of one window (the finest timeline step)' }),
  windows: Type.Integer(),
  total: Type.Number(),
  counts: Counts,
  sentiment: Type.Number(),
  peak: Type.Object({ windowStart: Type.Number(), offsetMs: Type.Number(), total: Type.Number(), dominant: Type.Object({ emoji: Type.String(), count: Type.Number() }) }),
});

export const ReplayQuery = Type.Object(
  {
    matchId: Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN }),
    offset: Type.Optional(Type.String({ pattern: INT, description: 'playhead, ms since the match start (default 0)' })),
    at: Type.Optional(Type.String({ pattern: INT, description: 'playhead, ms since the epoch (wins over offset when both are given)' })),
    speed: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3})?$', description: 'playback rate, held to 0.1..64 (default 1)' })),
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type ReplayQuery = Static<typeof ReplayQuery>;
