import { Type, type Static } from 'typebox';
import { ErrorCodes } from '../domain/errors.js';

const definitions = Object.values(ErrorCodes);

/**
 * The one shape of an error body, built from the error catalogue so a new code is documented the
 * moment it exists. The error handler answers with it and the OpenAPI document references it.
 */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated in the body' }),
    code: Type.Union(
      definitions.map((d) => Type.Literal(d.code, { description: `${d.statusCode}${d.retryable ? ', retryable' : ''}: ${d.message}` })),
      { description: 'Stable machine-readable code; one of the EMO_ERR_* codes of the error catalogue' },
    ),
    error: Type.String({ description: 'The HTTP reason phrase' }),
    message: Type.String({ description: 'Human-readable detail; wording may change, the code does not' }),
    index: Type.Optional(Type.Integer({ minimum: 0, description: 'Batch requests: the position of the first rejected item' })),
  },
  { $id: 'EmoError', title: 'EmoError', additionalProperties: true, description: 'Every error EmoStream answers over HTTP' },
);
export type ErrorBody = Static<typeof ErrorBody>;
