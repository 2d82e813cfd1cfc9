/**
 * The provider's page, signed in with its provider token: its backends with their live state,
 * in-flight requests, latency and scraped load (drain one from here), a form to register one, and
 * what it earned per day for the last week with what was paid out and what it is owed now.
 * Reads and writes only /provider/v1 endpoints.
 */
import { query } from '../api-client.ts';
import type { Backend, Earnings, List } from '../api-types.ts';
import { fromMicro, toMicro } from '../decimal-money.ts';
import { button, element, field, section, statusLine, table } from '../dom.ts';
import { formatCount, t } from '../i18n.ts';
import { failureText, money, type Page, type PageContext } from '../page.ts';
import { barChart } from './bar-chart.ts';
import { lastDays } from './usage-summary.ts';

const earningsDays = 7;

export function loadText(backend: Backend): string {
  const scraped = backend.routing?.scraped;
  if (scraped === null || scraped === undefined) {
    return t('unknown');
  }
  const part = (value: number | null) => (value === null ? '?' : formatCount(value));
  return `${part(scraped.running)} / ${part(scraped.waiting)}`;
}

export function latencyText(backend: Backend): string {
  return backend.latency_ewma_ms === null
    ? t('unknown')
    : `${Math.round(backend.latency_ewma_ms)} ms`;
}

function backendRows(
  context: PageContext,
  backends: readonly Backend[],
  status: HTMLElement,
  reload: () => void,
) {
  return backends.map((backend) => [
    element('code', {}, backend.id),
    backend.region,
    backend.models.join(', '),
    element('span', { class: `state state-${backend.state}` }, backend.state),
    `${backend.in_flight} / ${backend.slots}`,
    latencyText(backend),
    loadText(backend),
    button(
      t('drain'),
      () => {
        context.api
          .json('PATCH', `/provider/v1/backends/${backend.id}`, { state: 'draining' })
          .then(() => {
            status.textContent = t('saved');
            reload();
          })
          .catch((error: unknown) => {
            status.textContent = failureText(error);
          });
      },
      {
        disabled: backend.state === 'draining',
        'aria-label': `${t('drain')} ${backend.id}`,
        'data-backend': backend.id,
      },
    ),
  ]);
}

function registerForm(context: PageContext, reload: () => void): HTMLElement {
  const url = field(t('backendUrl'), { name: 'url', type: 'url', required: true });
  const region = field(t('region'), { name: 'region', required: true });
  const models = field(t('modelsCommaSeparated'), { name: 'models', required: true });
  const slots = field(t('slots'), { name: 'slots', type: 'number', min: 1, value: 8 });
  const status = statusLine();
  const form = element(
    'form',
    { class: 'inline-form' },
    url.wrapper,
    region.wrapper,
    models.wrapper,
    slots.wrapper,
    element('button', { type: 'submit' }, t('register')),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = {
      url: url.input.value.trim(),
      region: region.input.value.trim(),
      models: models.input.value
        .split(',')
        .map((model) => model.trim())
        .filter((model) => model !== ''),
      slots: Number(slots.input.value),
    };
    context.api
      .json('POST', '/provider/v1/backends', body)
      .then(() => {
        status.textContent = t('saved');
        reload();
      })
      .catch((error: unknown) => {
        status.textContent = failureText(error);
      });
  });
  return section('register-backend', t('registerBackend'), form);
}

async function earnings(context: PageContext): Promise<HTMLElement> {
  const days = lastDays(new Date(), earningsDays);
  const bounds = days.map((day) => new Date(`${day}T00:00:00`));
  const end = new Date(bounds.at(-1)?.getTime() ?? Date.now());
  end.setDate(end.getDate() + 1);
  const ranges = bounds.map((from, index) => ({ from, to: bounds[index + 1] ?? end }));
  const perDay = await Promise.all(
    ranges.map((range) =>
      context.api.json<Earnings>(
        'GET',
        `/provider/v1/earnings${query({ from: range.from.toISOString(), to: range.to.toISOString() })}`,
      ),
    ),
  );
  const currency = perDay[0]?.currency ?? '';
  const earned = perDay.map((day) => toMicro(day.total_earned));
  const paid = perDay.map((day) => toMicro(day.total_paid));
  const unpaidNow = perDay.at(-1)?.unpaid ?? '0.00';
  const moneyText = (value: bigint) => `${fromMicro(value)} ${currency}`;
  return section(
    'earnings',
    t('earningsPerDay'),
    element(
      'dl',
      { class: 'figures' },
      element('dt', {}, t('unpaid')),
      element('dd', { id: 'earnings-unpaid' }, money(unpaidNow, currency)),
    ),
    barChart({
      label: t('earningsPerDay'),
      days,
      series: [
        { name: t('earned'), values: earned },
        { name: t('totalPaid'), values: paid },
      ],
      formatValue: moneyText,
    }),
    table(
      [t('day'), t('requests'), t('earned'), t('totalPaid')],
      days.map((day, index) => [
        day,
        formatCount((perDay[index]?.data ?? []).reduce((sum, row) => sum + row.requests, 0)),
        money(perDay[index]?.total_earned ?? '0.00', currency),
        money(perDay[index]?.total_paid ?? '0.00', currency),
      ]),
      { moneyColumns: [2, 3] },
    ),
  );
}

export const providerPage: Page = {
  id: 'provider',
  title: 'navProvider',
  async render(context) {
    const reload = context.refresh;
    const backends = await context.api.json<List<Backend>>('GET', '/provider/v1/backends');
    const status = statusLine();
    return element(
      'div',
      { class: 'page' },
      section(
        'backends',
        t('backends'),
        button(t('refresh'), reload),
        status,
        table(
          ['ID', t('region'), t('models'), t('state'), t('inFlight'), t('latency'), t('load'), ''],
          backendRows(context, backends.data, status, reload),
        ),
      ),
      registerForm(context, reload),
      await earnings(context),
    );
  },
};
