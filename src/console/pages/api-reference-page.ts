/**
 * The interactive API reference: reads the gateway's OpenAPI document (GET /openapi.json) and
 * shows its operations grouped by tag (or first path segment), each with its parameters, request
 * body schema and responses, and a "try it" form that sends the request with the signed-in
 * credential (the server decides what it may do). A gateway without the document says so.
 */
import { ApiError } from '../api-client.ts';
import { element, field, replace, section, statusLine } from '../dom.ts';
import { t } from '../i18n.ts';
import { failureText, type Page, type PageContext } from '../page.ts';

type Parameter = {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: unknown;
};

type Operation = {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
};

type OpenApiDocument = {
  info?: { title?: string; version?: string };
  paths?: Record<string, Record<string, unknown>>;
};

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Entry = { method: string; path: string; operation: Operation };

function isOperation(value: unknown): value is Operation {
  return typeof value === 'object' && value !== null;
}

export function operationsOf(document: OpenApiDocument): Map<string, Entry[]> {
  const groups = new Map<string, Entry[]>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of methods) {
      const operation = item[method];
      if (!isOperation(operation)) {
        continue;
      }
      const group =
        operation.tags?.[0] ??
        path
          .split('/')
          .filter((part) => part !== '')
          .slice(0, 2)
          .join('/');
      groups.set(group, [
        ...(groups.get(group) ?? []),
        { method: method.toUpperCase(), path, operation },
      ]);
    }
  }
  return groups;
}

function schemaText(schema: unknown): string {
  return JSON.stringify(schema ?? {}, null, 2);
}

function parametersTable(parameters: readonly Parameter[]): HTMLElement {
  return element(
    'dl',
    { class: 'parameters' },
    ...parameters.flatMap((parameter) => [
      element(
        'dt',
        {},
        element('code', {}, parameter.name),
        ` (${parameter.in}${parameter.required === true ? `, ${t('required')}` : ''})`,
      ),
      element(
        'dd',
        {},
        parameter.description ?? '',
        element('pre', {}, schemaText(parameter.schema)),
      ),
    ]),
  );
}

function tryIt(context: PageContext, entry: Entry): HTMLElement {
  const parameters = entry.operation.parameters ?? [];
  const inputs = parameters
    .filter((parameter) => parameter.in === 'path' || parameter.in === 'query')
    .map((parameter) => ({
      parameter,
      ...field(`${parameter.name} (${parameter.in})`, {
        name: `${entry.method}-${entry.path}-${parameter.name}`,
      }),
    }));
  const hasBody = entry.operation.requestBody !== undefined;
  const bodyId = `body-${entry.method}-${entry.path}`.replace(/[^a-zA-Z0-9-]/g, '-');
  const body = element('textarea', { id: bodyId, rows: 6, spellcheck: 'false' }, '{}');
  const result = element('pre', { class: 'try-result', 'aria-live': 'polite' });
  const status = statusLine();
  const form = element(
    'form',
    { class: 'try-it', 'aria-label': `${t('tryIt')} ${entry.method} ${entry.path}` },
    element('p', {}, t('tryItHelp')),
    ...inputs.map((input) => input.wrapper),
    hasBody
      ? element(
          'div',
          { class: 'field' },
          element('label', { for: bodyId }, t('requestBody')),
          body,
        )
      : null,
    element('button', { type: 'submit' }, t('send')),
    status,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let path = entry.path;
    const search = new URLSearchParams();
    for (const { parameter, input } of inputs) {
      if (parameter.in === 'path') {
        path = path.replace(`{${parameter.name}}`, encodeURIComponent(input.value));
      } else if (input.value !== '') {
        search.set(parameter.name, input.value);
      }
    }
    const target = search.size > 0 ? `${path}?${search}` : path;
    context.api
      .raw(entry.method, target, hasBody ? body.value : undefined)
      .then(async (response) => {
        status.textContent = `${response.status} ${response.statusText}`;
        result.textContent = await response.text();
      })
      .catch((error: unknown) => {
        status.textContent = failureText(error);
      });
  });
  return form;
}

function operationView(context: PageContext, entry: Entry): HTMLElement {
  const { operation } = entry;
  const bodySchema = Object.values(operation.requestBody?.content ?? {})[0]?.schema;
  return element(
    'details',
    { class: 'operation' },
    element(
      'summary',
      {},
      element('code', {}, `${entry.method} ${entry.path}`),
      operation.summary === undefined ? '' : ` — ${operation.summary}`,
    ),
    operation.description === undefined ? null : element('p', {}, operation.description),
    (operation.parameters ?? []).length === 0 ? null : element('h4', {}, t('parameters')),
    (operation.parameters ?? []).length === 0 ? null : parametersTable(operation.parameters ?? []),
    bodySchema === undefined ? null : element('h4', {}, t('requestBody')),
    bodySchema === undefined ? null : element('pre', {}, schemaText(bodySchema)),
    element('h4', {}, t('responses')),
    element(
      'ul',
      {},
      ...Object.entries(operation.responses ?? {}).map(([code, response]) =>
        element('li', {}, element('code', {}, code), ` ${response.description ?? ''}`),
      ),
    ),
    element('h4', {}, t('tryIt')),
    tryIt(context, entry),
  );
}

export const apiReferencePage: Page = {
  id: 'api',
  title: 'navApi',
  async render(context) {
    const root = section('api-reference', t('navApi'));
    const response = await context.api.raw('GET', '/openapi.json');
    if (response.status === 404) {
      root.append(element('p', { class: 'problem', id: 'openapi-missing' }, t('apiMissing')));
      return root;
    }
    if (!response.ok) {
      throw new ApiError(response.status, `${response.status} ${response.statusText}`, undefined);
    }
    const document = (await response.json()) as OpenApiDocument;
    const groups = element('div');
    replace(
      groups,
      ...[...operationsOf(document).entries()].map(([group, entries]) =>
        element(
          'section',
          { class: 'api-group' },
          element('h3', {}, group),
          ...entries.map((entry) => operationView(context, entry)),
        ),
      ),
    );
    root.append(
      element('p', {}, `${document.info?.title ?? ''} ${document.info?.version ?? ''}`),
      groups,
    );
    return root;
  },
};
