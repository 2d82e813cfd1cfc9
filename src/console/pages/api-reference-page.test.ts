import { describe, expect, it } from 'vitest';
import { operationsOf } from './api-reference-page.ts';

describe('the API reference', () => {
  it('groups operations by tag, else by the first two path segments', () => {
    const groups = operationsOf({
      paths: {
        '/admin/v1/tenants': { get: { tags: ['tenants'] }, post: { tags: ['tenants'] } },
        '/provider/v1/backends/{id}': { patch: {}, parameters: [] },
      },
    });
    expect([...groups.keys()]).toEqual(['tenants', 'provider/v1']);
    expect(groups.get('tenants')?.map((entry) => entry.method)).toEqual(['GET', 'POST']);
    expect(groups.get('provider/v1')?.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      'PATCH /provider/v1/backends/{id}',
    ]);
  });
});
