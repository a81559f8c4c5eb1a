import { errorSummary } from '../lib/logger.js';
import type { ErrorRequestHandler, Response } from 'express';
import type { ZodError } from 'zod';

/**
 * RFC 9457 problem details. Every error the API returns is one of these, with a stable `type`
 * that the merchant's code can switch on and, for input errors, the fields that are wrong.
 */
export const PROBLEM_TYPES = {
  'validation-error': { status: 400, title: 'The request is not valid' },
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  unauthenticated: { status: 401, title: 'Missing or invalid API key' },
  forbidden: { status: 403, title: 'This key may not do this' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'not-acceptable': { status: 406, title: 'This resource cannot answer in the format asked for' },
  'idempotency-key-reused': { status: 409, title: 'Idempotency-Key already used for another request' },
  conflict: { status: 409, title: 'The resource is not in a state that allows this' },
  'payload-too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Send the body as application/json' },
  'payment-not-possible': { status: 422, title: 'The payment cannot be made as requested' },
  'insufficient-balance': { status: 422, title: 'Available balance too low' },
  'rate-limited': { status: 429, title: 'Too many requests; retry later' },
  'service-unavailable': { status: 503, title: 'A dependency is unavailable; retry later' },
  'internal-error': { status: 500, title: 'Internal error' },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface FieldError {
  field: string;
  message: string;
}

export class Problem extends Error {
  constructor(
    readonly type: ProblemType,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; code?: string; resource?: Record<string, string> } = {},
  ) {
    super(detail ?? PROBLEM_TYPES[type].title);
    this.name = 'Problem';
  }

  get status(): number {
    return PROBLEM_TYPES[this.type].status;
  }
}

export function problemTypeUri(type: ProblemType): string {
  return `/problems/${type}`;
}

/** The RFC 9457 body of a problem. */
export function problemBody(problem: Problem, instance: string, requestId?: string) {
  return {
    type: problemTypeUri(problem.type),
    title: PROBLEM_TYPES[problem.type].title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    instance,
    ...(problem.extra.code ? { code: problem.extra.code } : {}),
    ...(problem.extra.errors ? { errors: problem.extra.errors } : {}),
    ...(problem.extra.resource ? problem.extra.resource : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

export function sendProblem(res: Response, problem: Problem): void {
  const requestId = res.getHeader('x-request-id');
  res
    .status(problem.status)
    .type('application/problem+json')
    .json(problemBody(problem, res.req.originalUrl, requestId ? String(requestId) : undefined));
}

/** Zod issues as field errors: `customer.phone`, `amount`, ... */
export function fieldErrors(error: ZodError, prefix = ''): FieldError[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    // Unknown keys are reported on the object; name them so the merchant sees which one.
    if (issue.code === 'unrecognized_keys') {
      return {
        field: [path, issue.keys[0]].filter(Boolean).join('.'),
        message: `unknown field(s): ${issue.keys.join(', ')}`,
      };
    }
    return { field: path || '(body)', message: issue.message };
  });
}

export function validationProblem(error: ZodError, prefix = ''): Problem {
  const errors = fieldErrors(error, prefix);
  return new Problem('validation-error', errors.map((e) => `${e.field}: ${e.message}`).join('; '), {
    errors,
  });
}

/** Last error handler: anything not already a Problem becomes one, and 5xx are logged. */
export const problemHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (res.headersSent) return;
  if (err instanceof Problem) return sendProblem(res, err);
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed') return sendProblem(res, new Problem('malformed-json', e.message));
  if (e.type === 'entity.too.large') return sendProblem(res, new Problem('payload-too-large'));
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return sendProblem(res, new Problem('unsupported-media-type', e.message));
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return sendProblem(res, new Problem('validation-error', e.message));
  }
  req.log.error({ err: errorSummary(err) }, 'unhandled error');
  sendProblem(
    res,
    new Problem('internal-error', 'Something went wrong on our side; the request id identifies it'),
  );
};
