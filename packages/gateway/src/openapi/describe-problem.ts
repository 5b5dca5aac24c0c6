import type { ErrorObject } from 'ajv';
import type { ValidationProblem } from './types.js';

/**
 * A pointer segment taken from the request (a property name under `additionalProperties`, an unknown
 * query parameter) is echoed only when it looks like an identifier; otherwise the pointer stops at the
 * parent, so a problem never carries arbitrary client input.
 */
const SAFE_SEGMENT = /^[\w.~$@:-]{1,64}$/;

/** `/a/b~1c` kept up to the first segment that is not safe to echo. */
export function safePointer(pointer: string): string {
  if (pointer === '') return '';
  let end = 0;
  while (end < pointer.length) {
    const next = pointer.indexOf('/', end + 1);
    const stop = next === -1 ? pointer.length : next;
    if (!SAFE_SEGMENT.test(pointer.slice(end + 1, stop))) break;
    end = stop;
  }
  return pointer.slice(0, end);
}

export function appendSegment(pointer: string, segment: string): string {
  const escaped = segment.replaceAll('~', '~0').replaceAll('/', '~1');
  return SAFE_SEGMENT.test(escaped) ? `${pointer}/${escaped}` : pointer;
}

function paramOf(error: ErrorObject, name: string): string | undefined {
  const value = (error.params as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'type': {
      const type = (error.params as { type?: unknown }).type;
      return `must be ${Array.isArray(type) ? type.join(' or ') : String(type)}`;
    }
    case 'required':
    case 'dependentRequired':
    case 'dependencies':
      return 'is required';
    case 'additionalProperties':
    case 'unevaluatedProperties':
    case 'additionalItems':
    case 'unevaluatedItems':
    case 'false schema':
      return 'is not allowed';
    case 'readOnly':
      return 'is read-only';
    case 'enum':
      return 'must be one of the allowed values';
    case 'const':
      return 'must be the allowed value';
    case 'format':
      return `must be a valid ${paramOf(error, 'format') ?? 'value'}`;
    case 'pattern':
      return 'does not match the expected pattern';
    case 'minLength':
      return 'is too short';
    case 'maxLength':
      return 'is too long';
    case 'minimum':
    case 'exclusiveMinimum':
      return 'is too small';
    case 'maximum':
    case 'exclusiveMaximum':
      return 'is too large';
    case 'multipleOf':
      return 'is not a multiple of the allowed step';
    case 'minItems':
      return 'has too few items';
    case 'maxItems':
      return 'has too many items';
    case 'uniqueItems':
      return 'must not contain duplicate items';
    case 'minProperties':
      return 'has too few properties';
    case 'maxProperties':
      return 'has too many properties';
    case 'anyOf':
    case 'oneOf':
      return 'does not match the allowed schemas';
    case 'not':
      return 'matches a forbidden schema';
    default:
      return 'is invalid';
  }
}

/**
 * Turns ajv's errors into one problem under `prefix` (`/body`, `/query/limit`). Validation stops at the
 * first failure (`allErrors: false`), so the last error is the outermost one: for `anyOf` it is the
 * combinator itself, not whichever branch happened to be tried first.
 */
export function describeProblem(
  prefix: string,
  errors: readonly ErrorObject[] | null | undefined,
): ValidationProblem {
  const error = errors?.[errors.length - 1];
  if (error === undefined) return { pointer: prefix, message: 'is invalid' };
  let pointer = prefix + safePointer(error.instancePath);
  const complete = pointer.length === prefix.length + error.instancePath.length;
  if (complete) {
    const child =
      paramOf(error, 'missingProperty') ??
      paramOf(error, 'additionalProperty') ??
      paramOf(error, 'unevaluatedProperty');
    if (child !== undefined) pointer = appendSegment(pointer, child);
  }
  return { pointer, message: messageOf(error) };
}
