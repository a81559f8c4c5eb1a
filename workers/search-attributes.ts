import proto from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import { SA } from '../lib/payment-workflows.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

const TYPES = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/** The `--search-attribute` flags that register ours on `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return Object.values(SA).flatMap((key) => [
    '--search-attribute',
    `${key.name}=${key.type === 'INT' ? 'Int' : 'Keyword'}`,
  ]);
}

/**
 * Registers our custom search attributes on the namespace when missing, so that a Temporal server
 * not started by us (production, another dev server) can still index and search payments.
 */
export async function ensureSearchAttributes(
  connection: NativeConnection,
  namespace: string,
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.values(SA).filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, TYPES[key.type]])),
  });
  return missing.map((key) => key.name);
}
