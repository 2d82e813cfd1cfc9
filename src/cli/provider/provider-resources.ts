/**
 * The command table of `tokenbank provider`: a compute provider's own backends (register, list,
 * change, drain, remove) and what it earned, over the provider API (`/provider/v1/...`) with its
 * `tbp-...` token. Reading, sending and printing are the admin CLI's (`cli/admin/`).
 */
import { type ActionInput, type AdminResource, pathSegment } from '../admin/admin-action.ts';
import { earningsAction } from '../admin/earnings-report.ts';
import { type Column, column, renderList, renderRecord } from '../admin/render-table.ts';

/** STATE is shown as the gateway reports it (healthy, draining, pending, ...), whatever it is. */
const backendColumns: Column[] = [
  column('ID', 'id'),
  column('STATE', 'state'),
  column('REGION', 'region'),
  column('SLOTS', 'slots'),
  column('IN FLIGHT', 'in_flight'),
  column('MODELS', 'models'),
  column('URL', 'url'),
];

const slotsFlag = {
  kind: 'string',
  placeholder: 'N',
  description: 'requests the backend runs at once',
} as const;

function backendPath(input: ActionInput): string {
  return `/provider/v1/backends/${pathSegment(input.argument('BACKEND_ID'))}`;
}

const backendResource: AdminResource = {
  summary: "this provider's GPU backends",
  actions: {
    add: {
      summary: 'register an OpenAI-compatible server (its base URL ends in /v1)',
      flags: {
        'backend-url': {
          kind: 'string',
          placeholder: 'URL',
          description: 'base URL, e.g. https://gpu1.example.com/v1',
          required: true,
        },
        region: {
          kind: 'string',
          placeholder: 'R',
          description: 'region it runs in, e.g. cn-east',
          required: true,
        },
        models: {
          kind: 'string',
          placeholder: 'a,b',
          description: 'models it serves',
          required: true,
        },
        slots: { ...slotsFlag, description: 'requests it runs at once (default 8)' },
        'api-key': {
          kind: 'string',
          placeholder: 'K',
          description: 'key the gateway sends to it, if it needs one',
        },
        'metrics-url': {
          kind: 'string',
          placeholder: 'URL',
          description: 'its Prometheus /metrics, for load-aware routing',
        },
      },
      notes: [
        '--url is the gateway (as for every command); --backend-url is the GPU server.',
        'Loopback and private addresses are refused unless the operator set',
        'TOKENBANK_ALLOW_PRIVATE_BACKENDS=1. Where the operator approves backends, a new one is',
        'pending (see STATE) until approved.',
      ].join('\n'),
      request: (input) => ({
        method: 'POST',
        path: '/provider/v1/backends',
        body: {
          url: input.requiredText('backend-url'),
          region: input.requiredText('region'),
          models: input.list('models'),
          slots: input.integer('slots'),
          api_key: input.text('api-key'),
          metrics_url: input.text('metrics-url'),
        },
      }),
      render: renderRecord,
    },
    list: {
      summary: 'list the backends with their state and load',
      request: () => ({ method: 'GET', path: '/provider/v1/backends' }),
      render: (body) => renderList(body, backendColumns, 'backends'),
    },
    update: {
      summary: "change a backend's slots, models or region",
      arguments: ['BACKEND_ID'],
      flags: {
        slots: slotsFlag,
        models: {
          kind: 'string',
          placeholder: 'a,b',
          description: 'the models it serves from now on',
        },
        region: { kind: 'string', placeholder: 'R', description: 'its region' },
      },
      request: (input) => ({
        method: 'PATCH',
        path: backendPath(input),
        body: {
          slots: input.integer('slots'),
          models: input.list('models'),
          region: input.text('region'),
        },
      }),
      render: renderRecord,
    },
    drain: {
      summary: 'take no new requests; those running finish',
      arguments: ['BACKEND_ID'],
      request: (input) => ({
        method: 'PATCH',
        path: backendPath(input),
        body: { state: 'draining' },
      }),
      render: renderRecord,
    },
    remove: {
      summary: 'remove a backend once its requests in flight finish',
      arguments: ['BACKEND_ID'],
      request: (input) => ({ method: 'DELETE', path: backendPath(input) }),
      render: renderRecord,
    },
  },
};

const earningsResource: AdminResource = {
  summary: 'tokens served and amount earned, per backend and model',
  actions: {},
  direct: earningsAction('show what this provider earned', () => '/provider/v1/earnings'),
};

export const providerResources: Readonly<Record<string, AdminResource>> = {
  backends: backendResource,
  earnings: earningsResource,
};
