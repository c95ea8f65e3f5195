import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ApiErrorBody } from '../../packages/sdk/src/index.js';
import { ErrorBody } from '../../src/http/error-schema.js';
import { ErrorCodes } from '../../src/domain/errors.js';

// The SDK ships without the server, so it declares the error body itself; these checks keep that
// declaration and the server's one schema (routes, OpenAPI) from drifting apart. The type half is
// enforced by the typecheck tier, the runtime half by comparing the schema's properties.
describe('SDK ApiErrorBody matches the server error schema', () => {
  it('every server error body is an ApiErrorBody, and the other way round for the fields', () => {
    expectTypeOf<ErrorBody>().toExtend<ApiErrorBody>();
    expectTypeOf<keyof ApiErrorBody>().toEqualTypeOf<'statusCode' | 'code' | 'error' | 'message' | 'index'>();
    expect(Object.keys(ErrorBody.properties).sort()).toEqual(['code', 'error', 'index', 'message', 'statusCode']);
    expect(ErrorBody.required?.slice().sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  });

  it('the catalogue codes are what the SDK documents: EMO_ERR_*', () => {
    for (const d of Object.values(ErrorCodes)) expect(d.code).toMatch(/^EMO_ERR_[A-Z_]+$/);
  });
});
