/**
 * `tokenbank admin tenants` and `tokenbank admin keys`: customers, with their balance, holds and
 * coupons (and their regions, changed in place), and the API keys they call the gateway with
 * (and their limits). A key's secret is in the answer that
 * creates it and nowhere else, so its renderer puts it first and says so.
 */
import { UsageError } from '../gateway-flags.ts';
import { type ActionInput, type AdminResource, pathSegment } from './admin-action.ts';
import { renderCouponTable } from './money-resources.ts';
import {
  type Column,
  column,
  isRecord,
  renderList,
  renderRecord,
  renderSecretRecord,
} from './render-table.ts';

const tenantColumns: Column[] = [
  column('ID', 'id'),
  column('NAME', 'name'),
  column('HOME REGION', 'home_region'),
  column('ALLOWED REGIONS', 'allowed_regions'),
  column('CLAMP', 'allow_max_tokens_clamp'),
  column('CURRENCY', 'currency'),
  column('BALANCE', 'balance'),
  column('CREATED', 'created_at'),
];

const keyColumns: Column[] = [
  column('ID', 'id'),
  column('NAME', 'name'),
  column('PREFIX', 'key_prefix'),
  column('MODELS', 'models'),
  column('RPM', 'rpm'),
  column('TPM', 'tpm'),
  column('STATUS', 'status'),
  column('CREATED', 'created_at'),
  column('REVOKED', 'revoked_at'),
];

/** A flag's value, or null when it says `none` (the setting is lifted). */
function orNone<Value>(
  input: ActionInput,
  flag: string,
  read: (flag: string) => Value | undefined,
): Value | null | undefined {
  return input.text(flag) === 'none' ? null : read(flag);
}

/** `on` or `off` as a boolean. */
function switchOf(input: ActionInput, flag: string): boolean | undefined {
  const value = input.text(flag);
  if (value === undefined) {
    return undefined;
  }
  if (value !== 'on' && value !== 'off') {
    throw new UsageError(`--${flag} must be on or off, got "${value}"`);
  }
  return value === 'on';
}

/** The table, then how to fetch the next page when there is one. */
function renderTenantPage(body: unknown): string {
  const table = renderList(body, tenantColumns, 'tenants');
  const cursor = isRecord(body) && body.has_more === true ? body.next_cursor : undefined;
  return typeof cursor === 'string'
    ? `${table}more: tokenbank admin tenants list --after ${cursor}\n`
    : table;
}

/** The tenant's fields (balance and holds among them), then its coupons as a table. */
export function renderTenant(body: unknown): string {
  if (!isRecord(body)) {
    return renderRecord(body);
  }
  const { coupons, ...tenant } = body;
  return `${renderRecord(tenant)}\ncoupons:\n${renderCouponTable(coupons)}`;
}

export const tenantResource: AdminResource = {
  summary: 'customers, their regions and balances',
  actions: {
    list: {
      summary: 'list tenants, a page at a time',
      flags: {
        limit: { kind: 'string', placeholder: 'N', description: 'tenants per page (default 20)' },
        after: {
          kind: 'string',
          placeholder: 'ID',
          description: 'start after this tenant (the next_cursor of the previous page)',
        },
      },
      request: (input) => ({
        method: 'GET',
        path: '/admin/v1/tenants',
        query: { limit: input.integer('limit')?.toString(), after: input.text('after') },
      }),
      render: renderTenantPage,
    },
    create: {
      summary: 'create a tenant',
      flags: {
        name: { kind: 'string', placeholder: 'NAME', description: 'display name', required: true },
        'home-region': {
          kind: 'string',
          placeholder: 'R',
          description: 'region preferred for its requests',
        },
        'allowed-regions': {
          kind: 'string',
          placeholder: 'a,b',
          description: 'the only regions its requests may be served in (default: any)',
        },
        'allow-max-tokens-clamp': {
          kind: 'boolean',
          description: 'lower max_tokens to what the balance covers instead of refusing',
        },
      },
      request: (input) => ({
        method: 'POST',
        path: '/admin/v1/tenants',
        body: {
          name: input.requiredText('name'),
          home_region: input.text('home-region'),
          allowed_regions: input.list('allowed-regions'),
          allow_max_tokens_clamp: input.enabled('allow-max-tokens-clamp') ? true : undefined,
        },
      }),
      render: renderTenant,
    },
    get: {
      summary: 'show one tenant with its balance, holds and coupons',
      arguments: ['TENANT_ID'],
      request: (input) => ({
        method: 'GET',
        path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}`,
      }),
      render: renderTenant,
    },
    update: {
      summary: "change a tenant's regions, name, clamp or key management",
      arguments: ['TENANT_ID'],
      flags: {
        name: { kind: 'string', placeholder: 'NAME', description: 'display name' },
        'home-region': {
          kind: 'string',
          placeholder: 'R|none',
          description: 'region preferred for its requests (none: no preference)',
        },
        'allowed-regions': {
          kind: 'string',
          placeholder: 'a,b|none',
          description: 'the only regions its requests may be served in (none: any)',
        },
        clamp: {
          kind: 'string',
          placeholder: 'on|off',
          description: 'lower max_tokens to what the balance covers instead of refusing',
        },
        'key-management': {
          kind: 'string',
          placeholder: 'on|off',
          description: "let its keys issue and revoke the tenant's keys (/v1/account/keys)",
        },
      },
      notes: 'Only the settings given change. Its keys see the change at once, on every replica.',
      request: (input) => ({
        method: 'PATCH',
        path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}`,
        body: {
          name: input.text('name'),
          home_region: orNone(input, 'home-region', input.text),
          allowed_regions: orNone(input, 'allowed-regions', input.list),
          allow_max_tokens_clamp: switchOf(input, 'clamp'),
          allow_key_management: switchOf(input, 'key-management'),
        },
      }),
      render: renderTenant,
    },
  },
};

export const keyResource: AdminResource = {
  summary: "a tenant's API keys (tbk-...)",
  actions: {
    create: {
      summary: 'issue an API key to a tenant; the key is printed only this once',
      arguments: ['TENANT_ID'],
      flags: {
        name: { kind: 'string', placeholder: 'NAME', description: 'label for the key' },
        models: {
          kind: 'string',
          placeholder: 'a,b',
          description: 'the only models it may call (default: all)',
        },
        rpm: { kind: 'string', placeholder: 'N', description: 'requests per minute at most' },
        tpm: { kind: 'string', placeholder: 'N', description: 'tokens per minute at most' },
      },
      request: (input) => ({
        method: 'POST',
        path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}/keys`,
        body: {
          name: input.text('name'),
          models: input.list('models'),
          rpm: input.integer('rpm'),
          tpm: input.integer('tpm'),
        },
      }),
      render: (body) => renderSecretRecord(body, 'key', 'API key'),
    },
    list: {
      summary: "list a tenant's keys (secrets are never shown again, only their prefix)",
      arguments: ['TENANT_ID'],
      request: (input) => ({
        method: 'GET',
        path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}/keys`,
      }),
      render: (body) => renderList(body, keyColumns, 'keys'),
    },
    update: {
      summary: "change a key's limits: models, requests and tokens per minute",
      arguments: ['KEY_ID'],
      flags: {
        name: { kind: 'string', placeholder: 'NAME', description: 'label for the key' },
        models: {
          kind: 'string',
          placeholder: 'a,b|none',
          description: 'the only models it may call (none: all)',
        },
        rpm: {
          kind: 'string',
          placeholder: 'N|none',
          description: 'requests per minute at most (none: the default)',
        },
        tpm: {
          kind: 'string',
          placeholder: 'N|none',
          description: 'tokens per minute at most (none: the default)',
        },
      },
      notes: 'Only the limits given change; they apply to its next request, on every replica.',
      request: (input) => ({
        method: 'PATCH',
        path: `/admin/v1/keys/${pathSegment(input.argument('KEY_ID'))}`,
        body: {
          name: input.text('name'),
          models: orNone(input, 'models', input.list),
          rpm: orNone(input, 'rpm', input.integer),
          tpm: orNone(input, 'tpm', input.integer),
        },
      }),
      render: renderRecord,
    },
    revoke: {
      summary: 'revoke a key; requests with it fail from now on',
      arguments: ['KEY_ID'],
      request: (input) => ({
        method: 'DELETE',
        path: `/admin/v1/keys/${pathSegment(input.argument('KEY_ID'))}`,
      }),
      render: renderRecord,
    },
  },
};
