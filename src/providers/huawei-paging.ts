// Response-shape helpers shared by the Huawei adapters: success and "already gone" checks, field access.
import type { HuaweiResponse } from './huawei-api.js';
import { huaweiErrorBody } from './huawei-api.js';
import { ProviderError } from './provider.js';

/**
 * A 404 means the record is gone, unless APIG itself answered (APIGW.0101: the API path does not
 * exist), which is a wrong endpoint and must never be mistaken for a successful delete.
 */
export function isRecordNotFound(response: HuaweiResponse, extraCodes: readonly string[] = []): boolean {
  const { code } = huaweiErrorBody(response.body);
  if (code !== undefined && extraCodes.includes(code)) return true;
  return response.status === 404 && !(code ?? '').startsWith('APIGW.');
}

/** The named array of a list response; a malformed body stops the listing instead of guessing. */
export function listField(response: HuaweiResponse, field: string): readonly Record<string, unknown>[] {
  const body = response.body as Record<string, unknown> | undefined;
  const items = body?.[field];
  if (!Array.isArray(items) || items.some((i) => i === null || typeof i !== 'object')) {
    throw new ProviderError('permanent', `unexpected list response: no "${field}" array`, {
      status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
    });
  }
  return items as Record<string, unknown>[];
}

/** A string (or numeric) id field, or undefined when absent. */
export function idField(item: Record<string, unknown>, field: string): string | undefined {
  const value = item[field];
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** A string field, or undefined. */
export function textField(item: Record<string, unknown>, field: string): string | undefined {
  const value = item[field];
  return typeof value === 'string' ? value : undefined;
}
