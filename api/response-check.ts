import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../lib/logger.js';
import type { DocumentedResponses } from './openapi.js';
import { Problem, problemBody } from './problems.js';

/**
 * Checks every JSON answer of a documented operation against the document (CHECK_RESPONSES, on
 * in the test suite): a success status the operation does not declare, a body its schema refuses,
 * or a field the schema does not name turns the answer into a 500 naming the difference, so that
 * every test that reads an answer also proves the document right.
 */
export function checkResponsesAgainstDocument(
  contract: DocumentedResponses[],
  logger: Logger,
): RequestHandler {
  return (req, res, next) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const path = req.originalUrl.split('?')[0]!;
      const op = contract.find((o) => o.method === req.method.toLowerCase() && o.pattern.test(path));
      if (!op || res.statusCode >= 400) return json(body);
      const schema = op.schemas[String(res.statusCode)];
      const differences = schema
        ? [
            ...(schema
              .safeParse(body)
              .error?.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) ?? []),
            ...undocumentedFields(schema, body, '').map((f) => `${f}: not in the document`),
          ]
        : [`status ${res.statusCode} is not documented`];
      if (!differences.length) return json(body);
      logger.error(
        { operation: `${op.method} ${op.path}`, differences },
        'answer does not match the OpenAPI document',
      );
      res.status(500);
      return json(
        problemBody(
          new Problem(
            'internal-error',
            `The answer of ${op.method.toUpperCase()} ${op.path} does not match the OpenAPI document: ${differences.slice(0, 5).join('; ')}`,
          ),
          path,
        ),
      );
    };
    next();
  };
}

/** Fields of `value` that the object schemas inside `schema` do not name (records and unions are open). */
function undocumentedFields(schema: z.ZodType, value: unknown, at: string): string[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return value === undefined || value === null
      ? []
      : undocumentedFields(schema.unwrap() as z.ZodType, value, at);
  }
  if (schema instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((v, i) => undocumentedFields(schema.element as z.ZodType, v, `${at}[${i}]`));
  }
  if (schema instanceof z.ZodObject && value && typeof value === 'object' && !Array.isArray(value)) {
    const shape = schema.shape as Record<string, z.ZodType>;
    return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
      const field = at ? `${at}.${key}` : key;
      const inner = shape[key];
      return inner ? undocumentedFields(inner, v, field) : [field];
    });
  }
  return [];
}
