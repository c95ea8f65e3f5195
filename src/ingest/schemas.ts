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
