/**
 * `tokenbank admin providers`, `prices`, `backends` and `tokens`: the supply side, what it costs,
 * what each provider earned, and the rotation of the credentials that are not client keys. Money
 * is passed on exactly as typed (a decimal string) and printed exactly as the server sends it, so
 * no amount ever passes through a JavaScript number here.
 */
import { UsageError } from '../gateway-flags.ts';
import { type ActionInput, type AdminResource, pathSegment } from './admin-action.ts';
import { earningsAction } from './earnings-report.ts';
import { payoutActions } from './payout-actions.ts';
import {
  type Column,
  column,
  renderList,
  renderRecord,
  renderSecretRecord,
} from './render-table.ts';

const providerColumns: Column[] = [
  column('ID', 'id'),
  column('NAME', 'name'),
  column('PAYOUT BPS', 'payout_bps'),
  column('CREATED', 'created_at'),
];

const priceColumns: Column[] = [
  column('MODEL', 'model'),
  column('REGION', 'region'),
  column('VERSION', 'version'),
  column('INPUT', 'input'),
  column('CACHED INPUT', 'cached_input'),
  column('OUTPUT', 'output'),
  column('CURRENCY', 'currency'),
  column('EFFECTIVE AT', 'effective_at'),
  column('OFFPEAK', 'offpeak'),
];

const backendColumns: Column[] = [
  column('ID', 'id'),
  column('PROVIDER', 'provider_id'),
  column('REGION', 'region'),
  column('STATE', 'state'),
  column('IN FLIGHT', 'in_flight'),
  column('SLOTS', 'slots'),
  column('LATENCY MS', 'latency_ewma_ms'),
  column('MODELS', 'models'),
  column('URL', 'url'),
];

const offpeakFlags = [
  'offpeak-start',
  'offpeak-end',
  'offpeak-timezone',
  'offpeak-multiplier-bps',
] as const;

/** The off-peak window is all four flags or none: half a window has no meaning. */
function offpeakOf(input: ActionInput) {
  const given = offpeakFlags.filter((flag) => input.text(flag) !== undefined);
  if (given.length === 0) {
    return undefined;
  }
  if (given.length < offpeakFlags.length) {
    throw new UsageError(
      `an off-peak window needs all of ${offpeakFlags.map((flag) => `--${flag}`).join(', ')}`,
    );
  }
  return {
    start: input.requiredText('offpeak-start'),
    end: input.requiredText('offpeak-end'),
    timezone: input.requiredText('offpeak-timezone'),
    multiplier_bps: input.integer('offpeak-multiplier-bps'),
  };
}

export const providerResource: AdminResource = {
  summary: 'GPU providers that register backends (tbp-... tokens)',
  actions: {
    create: {
      summary: 'register a provider; its token is printed only this once',
      flags: {
        name: { kind: 'string', placeholder: 'NAME', description: 'display name', required: true },
        'payout-bps': {
          kind: 'string',
          placeholder: 'N',
          description: 'share of revenue paid out, in basis points 0-10000',
          required: true,
        },
      },
      request: (input) => ({
        method: 'POST',
        path: '/admin/v1/providers',
        body: { name: input.requiredText('name'), payout_bps: input.requiredInteger('payout-bps') },
      }),
      render: (body) => renderSecretRecord(body, 'token', 'provider token'),
    },
    list: {
      summary: 'list providers',
      request: () => ({ method: 'GET', path: '/admin/v1/providers' }),
      render: (body) => renderList(body, providerColumns, 'providers'),
    },
    earnings: {
      ...earningsAction(
        'show what a provider earned, per backend and model',
        (input) => `/admin/v1/providers/${pathSegment(input.argument('PROVIDER_ID'))}/earnings`,
      ),
      arguments: ['PROVIDER_ID'],
    },
    ...payoutActions,
    token: {
      summary: 'give a provider a new token; the old one is refused at once',
      arguments: ['ID'],
      request: (input) => ({
        method: 'POST',
        path: `/admin/v1/providers/${pathSegment(input.argument('ID'))}/token`,
      }),
      render: (body) => renderSecretRecord(body, 'token', 'new provider token'),
    },
  },
};

export const tokenResource: AdminResource = {
  summary: 'the admin token',
  actions: {
    rotate: {
      summary: 'replace the admin token; the old one is refused at once on every replica',
      notes: 'A token set by TOKENBANK_ADMIN_TOKEN is rotated by changing that variable instead.',
      request: () => ({ method: 'POST', path: '/admin/v1/tokens/rotate' }),
      render: (body) => renderSecretRecord(body, 'token', 'new admin token'),
    },
  },
};

export const priceResource: AdminResource = {
  summary: 'the price book, per 1,000,000 tokens',
  actions: {
    list: {
      summary: 'show the prices in force now',
      request: () => ({ method: 'GET', path: '/admin/v1/prices' }),
      render: (body) => renderList(body, priceColumns, 'prices'),
    },
    set: {
      summary: 'publish a new price version for a model',
      arguments: ['MODEL'],
      flags: {
        input: {
          kind: 'string',
          placeholder: 'X',
          description: 'input price, e.g. 2.50',
          required: true,
        },
        output: { kind: 'string', placeholder: 'Y', description: 'output price', required: true },
        'cached-input': {
          kind: 'string',
          placeholder: 'Z',
          description: 'cached input price (default: the input price)',
        },
        region: { kind: 'string', placeholder: 'R', description: 'price only this region' },
        'effective-at': {
          kind: 'string',
          placeholder: 'RFC3339',
          description: 'when it takes effect (default: now)',
        },
        'offpeak-start': { kind: 'string', placeholder: 'HH:MM', description: 'off-peak start' },
        'offpeak-end': { kind: 'string', placeholder: 'HH:MM', description: 'off-peak end' },
        'offpeak-timezone': {
          kind: 'string',
          placeholder: 'TZ',
          description: 'IANA time zone of the window, e.g. Asia/Shanghai',
        },
        'offpeak-multiplier-bps': {
          kind: 'string',
          placeholder: 'N',
          description: 'off-peak price in basis points of the price, e.g. 5000 for half',
        },
      },
      notes: 'Amounts are decimal strings in the deployment currency, sent exactly as typed.',
      request: (input) => ({
        method: 'PUT',
        path: `/admin/v1/prices/${pathSegment(input.argument('MODEL'))}`,
        body: {
          input: input.requiredText('input'),
          output: input.requiredText('output'),
          cached_input: input.text('cached-input'),
          region: input.text('region'),
          effective_at: input.text('effective-at'),
          offpeak: offpeakOf(input),
        },
      }),
      render: renderRecord,
    },
  },
};

export const backendResource: AdminResource = {
  summary: 'the live backend pool',
  actions: {
    list: {
      summary: 'list backends with their state, load and latency',
      request: () => ({ method: 'GET', path: '/admin/v1/backends' }),
      render: (body) => renderList(body, backendColumns, 'backends'),
    },
    approve: {
      summary: 'let a pending backend serve',
      arguments: ['ID'],
      request: (input) => ({
        method: 'POST',
        path: `/admin/v1/backends/${pathSegment(input.argument('ID'))}/approve`,
      }),
      render: renderRecord,
    },
  },
};
