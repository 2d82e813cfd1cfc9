/**
 * The operator's read-mostly pages: the price book with its off-peak windows, the pool per region
 * on one screen, the subsidy programs with their printable statements, and the ledger check with
 * the audit log. Each reads only /admin/v1 endpoints.
 */
import { query } from '../api-client.ts';
import type {
  AuditEvent,
  Backend,
  LedgerCheck,
  List,
  Price,
  Program,
  Statement,
  StatementAmounts,
} from '../api-types.ts';
import {
  button,
  element,
  field,
  replace,
  section,
  selectField,
  statusLine,
  table,
} from '../dom.ts';
import { couponKindText, formatTime, t } from '../i18n.ts';
import { failureText, money, type Page } from '../page.ts';
import { latencyText, loadText } from './provider-page.ts';
import { lastDays } from './usage-summary.ts';

function offpeakText(price: Price): string {
  const offpeak = price.offpeak;
  return offpeak === null
    ? '—'
    : `${offpeak.start}–${offpeak.end} ${offpeak.timezone} × ${offpeak.multiplier_bps / 100}%`;
}

export const operatorPricesPage: Page = {
  id: 'prices',
  title: 'navPrices',
  async render(context) {
    const prices = await context.api.json<List<Price>>('GET', '/admin/v1/prices');
    return section(
      'prices',
      t('priceBook'),
      element('p', {}, t('perMillion')),
      table(
        [
          t('model'),
          t('region'),
          t('input'),
          t('cachedInput'),
          t('output'),
          t('cardHour'),
          t('offpeak'),
          t('effective'),
        ],
        prices.data.map((price) => [
          price.model,
          price.region ?? '*',
          money(price.input, price.currency),
          money(price.cached_input, price.currency),
          money(price.output, price.currency),
          price.card_hour === null ? '—' : money(price.card_hour, price.currency),
          offpeakText(price),
          formatTime(price.effective_at),
        ]),
        { moneyColumns: [2, 3, 4, 5] },
      ),
    );
  },
};

function regionSummary(backends: readonly Backend[]): string {
  const healthy = backends.filter((backend) => backend.state === 'healthy').length;
  const inFlight = backends.reduce((sum, backend) => sum + backend.in_flight, 0);
  const slots = backends.reduce((sum, backend) => sum + backend.slots, 0);
  return `${healthy}/${backends.length} healthy · ${inFlight}/${slots} ${t('inFlight')}`;
}

export const operatorPoolPage: Page = {
  id: 'pool',
  title: 'navPool',
  async render(context) {
    const pool = await context.api.json<List<Backend>>('GET', '/admin/v1/backends');
    const regions = [...new Set(pool.data.map((backend) => backend.region))].sort();
    return section(
      'pool',
      t('poolByRegion'),
      button(t('refresh'), context.refresh),
      element(
        'div',
        { class: 'regions' },
        ...regions.map((region) => {
          const backends = pool.data.filter((backend) => backend.region === region);
          return element(
            'article',
            { class: 'region', 'data-region': region },
            element('h3', {}, region),
            element('p', {}, regionSummary(backends)),
            table(
              ['ID', t('state'), t('inFlight'), t('latency'), t('load'), t('models')],
              backends.map((backend) => [
                element('code', {}, backend.id),
                element(
                  'span',
                  { class: `state state-${backend.state}`, 'data-backend': backend.id },
                  backend.state,
                ),
                `${backend.in_flight} / ${backend.slots}`,
                latencyText(backend),
                loadText(backend),
                backend.models.join(', '),
              ]),
            ),
          );
        }),
      ),
    );
  },
};

function amountCells(amounts: StatementAmounts, currency: string) {
  return [
    String(amounts.coupons),
    money(amounts.granted, currency),
    money(amounts.used, currency),
    money(amounts.expired, currency),
    money(amounts.remaining, currency),
    String(amounts.requests),
    money(amounts.copaid_value, currency),
  ];
}

const amountHeaders = (): string[] => [
  t('coupons'),
  t('granted'),
  t('used'),
  t('expired'),
  t('remaining'),
  t('requests'),
  t('copaid'),
];

function statementView(statement: Statement): HTMLElement {
  const currency = statement.currency;

  return element(
    'div',
    { class: 'statement' },
    element('h3', {}, `${t('statement')}: ${statement.program}`),
    element('p', {}, `${formatTime(statement.from)} – ${formatTime(statement.to)} · ${currency}`),
    element(
      'p',
      { class: statement.reconciliation.ok ? 'ok' : 'problem' },
      statement.reconciliation.ok ? t('reconciled') : t('notReconciled'),
    ),
    table(
      [t('tenantId'), t('kind'), ...amountHeaders()],
      [
        ...statement.data.map((line) => [
          line.tenant_name ?? line.tenant_id,
          couponKindText(line.kind),
          ...amountCells(line, currency),
        ]),
        ...statement.totals.map((total) => [
          t('total'),
          couponKindText(total.kind),
          ...amountCells(total, currency),
        ]),
        [t('total'), '', ...amountCells(statement.grand_total, currency)],
      ],
      { moneyColumns: [3, 4, 5, 6, 8] },
    ),
    button(t('print'), () => window.print()),
  );
}

export const operatorProgramsPage: Page = {
  id: 'programs',
  title: 'navPrograms',
  async render(context) {
    const programs = await context.api.json<List<Program>>('GET', '/admin/v1/programs');
    const days = lastDays(new Date(), 30);
    const program = selectField(
      t('program'),
      'statement-program',
      programs.data.map((entry) => [entry.program, entry.program]),
    );
    const from = field(t('from'), { name: 'statement-from', type: 'date', value: days[0] });
    const to = field(t('to'), { name: 'statement-to', type: 'date', value: days.at(-1) });
    const output = element('div', { id: 'statement-output' });
    const form = element(
      'form',
      { class: 'inline-form' },
      program.wrapper,
      from.wrapper,
      to.wrapper,
      element('button', { type: 'submit' }, t('show')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const end = new Date(`${to.input.value}T00:00:00`);
      end.setDate(end.getDate() + 1);
      const range = {
        from: new Date(`${from.input.value}T00:00:00`).toISOString(),
        to: end.toISOString(),
      };
      replace(output, t('loading'));
      context.api
        .json<Statement>(
          'GET',
          `/admin/v1/programs/${encodeURIComponent(program.select.value)}/statement${query(range)}`,
        )
        .then((statement) => replace(output, statementView(statement)))
        .catch((error: unknown) => replace(output, failureText(error)));
    });
    return section(
      'programs',
      t('programs'),
      programs.data.length === 0 ? element('p', {}, t('none')) : form,
      output,
    );
  },
};

function checkView(check: LedgerCheck): HTMLElement {
  return check.ok
    ? element(
        'p',
        { class: 'ok' },
        t('checkOk', { accounts: check.accounts, transactions: check.transactions }),
      )
    : element(
        'div',
        { class: 'problem' },
        element('p', {}, t('checkProblems')),
        element('ul', {}, ...check.problems.map((problem) => element('li', {}, problem))),
      );
}

export const operatorLedgerPage: Page = {
  id: 'ledger',
  title: 'navLedger',
  async render(context) {
    const audit = await context.api.json<List<AuditEvent>>('GET', '/admin/v1/audit?limit=50');
    const result = statusLine();
    const run = button(t('runCheck'), () => {
      result.textContent = t('loading');
      context.api
        .json<LedgerCheck>('GET', '/admin/v1/ledger/check')
        .then((check) => replace(result, checkView(check)))
        .catch((error: unknown) => {
          result.textContent = failureText(error);
        });
    });
    return element(
      'div',
      { class: 'page' },
      section('ledger-check', t('ledgerCheck'), run, result),
      section(
        'audit',
        t('auditLog'),
        table(
          [t('time'), t('actor'), t('action'), t('entity')],
          audit.data.map((event) => [
            formatTime(event.created_at),
            event.actor,
            event.action,
            `${event.entity_type} ${event.entity_id ?? ''}`,
          ]),
        ),
      ),
    );
  },
};
