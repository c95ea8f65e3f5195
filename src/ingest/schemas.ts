import { Type, type Static } from 'typebox';
import { ID_PATTERN } from '../domain/types.js';

export const ReactionBody = Type.Object(
  {
    matchId: Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN }),
    userId: Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN }),
    emoji: Type.String({ minLength: 1, maxLength: 16 }),
    ts: Type.Optional(Type.Integer({ minimum: 0, maximum: 8_640_000_000_000 })),
  },
  { additionalProperties: false },
);
export type ReactionBody = Static<typeof ReactionBody>;

export function batchBody(maxItems: number) {
  return Type.Object({ reactions: Type.Array(ReactionBody, { minItems: 1, maxItems }) }, { additionalProperties: false });
}
export type BatchBody = { reactions: ReactionBody[] };

export const Accepted = Type.Object({ accepted: Type.Integer() });

/** The plausibility range of ts moves in steps of this, so that a document can state it exactly. */
export const TS_STEP_MS = 3_600_000;

/**
 * The ts a reaction may carry at receive time `now`: TS_PAST_MS before the start of the current
 * hour to TS_FUTURE_MS after its end (at most an hour looser than ±past/future around now). A range
 * that moved every millisecond could not be written in the OpenAPI document: the one served says
 * exactly what is accepted until the hour turns. It only catches unit mistakes (seconds, µs).
 */
export function acceptedTsRange(now: number, pastMs: number, futureMs: number): { min: number; max: number } {
  const floor = Math.floor(now / TS_STEP_MS) * TS_STEP_MS;
  const ceil = floor === now ? now : floor + TS_STEP_MS;
  return { min: floor - pastMs, max: ceil + futureMs };
}
