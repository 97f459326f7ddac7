// The error envelope as Hono answers it: zod validation failures, thrown errors and unknown routes.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { ConfigError } from '../config.ts';
import { isDatabaseUnavailable } from '../../db/client.ts';
import { ApiError, zodFieldErrors, type ErrorBody } from '../errors.ts';
import { DecryptionError } from '../services/crypto.ts';
import { describeError, log } from '../logger.ts';

export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  body: ErrorBody,
  headers?: Record<string, string>,
): Response {
  return c.json(body, status, headers);
}

const targetNames: Record<string, string> = {
  json: 'body',
  form: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
  cookie: 'cookie',
};

/** The zod-openapi `defaultHook`: every validation failure becomes a 400 naming each bad field. */
export function validationFailure(
  result: { success: boolean; error?: ZodError; target?: string },
  c: Context,
): Response | undefined {
  if (result.success || !result.error) return undefined;
  const where = targetNames[result.target ?? ''] ?? result.target ?? 'request';
  const errors = zodFieldErrors(result.error, where);
  const summary = errors
    .slice(0, 3)
    .map((error) => `${error.path}: ${error.message}`)
    .join('; ');
  return errorResponse(c, 400, { message: `Invalid request ${where}: ${summary}`, errors });
}

/** `app.onError`: known errors keep their status; anything else is a bug, answered 500 with the request id. */
export function handleError(error: Error, c: Context): Response {
  const requestId = c.get('requestId') as string | undefined;
  if (error instanceof ApiError) {
    return errorResponse(c, error.status, { message: error.message, errors: error.errors }, error.headers);
  }
  if (error instanceof ConfigError) {
    log('error', 'configuration error', { requestId, settings: error.settings, error: error.message });
    return errorResponse(c, 503, { message: `Service is not configured: ${error.message}`, request_id: requestId });
  }
  if (error instanceof DecryptionError) {
    log('error', 'stored secret cannot be decrypted', { requestId, path: c.req.path });
    return errorResponse(c, 503, {
      message: 'Stored secrets cannot be decrypted: SECURITY_KEY is not the key they were saved with',
      request_id: requestId,
    });
  }
  if (error instanceof HTTPException) {
    return errorResponse(c, error.status as ContentfulStatusCode, { message: httpExceptionMessage(error) });
  }
  if (isDatabaseUnavailable(error)) {
    log('error', 'database unavailable', { requestId, ...describeError(error) });
    return errorResponse(c, 503, { message: 'Database is unavailable, try again later', request_id: requestId });
  }
  log('error', 'unhandled error', { requestId, method: c.req.method, path: c.req.path, ...describeError(error) });
  return errorResponse(c, 500, { message: 'Internal server error', request_id: requestId });
}

function httpExceptionMessage(error: HTTPException): string {
  if (error.status === 400 && /json/i.test(error.message)) return 'Malformed JSON in request body';
  if (error.status === 415) return 'Request body must be JSON (Content-Type: application/json)';
  return error.message || 'Bad request';
}

export function handleNotFound(c: Context): Response {
  return errorResponse(c, 404, { message: `No route for ${c.req.method} ${c.req.path}` });
}
