/**
 * The tenant's page, signed in with one of its API keys: balance and holds, coupons by kind with
 * what each has paid and when it expires, spend and tokens per day (by model, by region) as
 * charts, its keys (issued and revoked here when the tenant allows it), batches with their
 * progress, and leases. Uses only /v1 endpoints.
 */
import { query } from '../api-client.ts';
import type {
  Account,
  AccountCoupon,
  Batch,
  IssuedKey,
  KeyList,
  Lease,
  List,
  UsageRecord,
} from '../api-types.ts';
import { fromMicro } from '../decimal-money.ts';
import { button, element, field, replace, section, statusLine, table } from '../dom.ts';
import { couponKindText, formatCount, formatTime, t } from '../i18n.ts';
import { failureText, money, type Page, type PageContext } from '../page.ts';
import { barChart } from './bar-chart.ts';
import { lastDays, summarizeUsage } from './usage-summary.ts';

/** Days the charts cover, and the usage records read for them (one page). */
const chartDays = 14;
const usageRecordsMax = 5_000;
const couponKinds = ['compute', 'storage', 'transport'] as const;

function summary(account: Account): HTMLElement {
  const today = account.usage_today;
  return section(
    'account',
    t('balance'),
    element(
      'dl',
      { class: 'figures' },
      element('dt', {}, t('balance')),
      element('dd', { id: 'account-balance' }, money(account.balance, account.currency)),
      element('dt', {}, t('holds')),
      element('dd', {}, money(account.holds, account.currency)),
      element('dt', {}, t('usageToday')),
      element(
        'dd',
        {},
        `${t('requestsToday', { count: formatCount(today.requests) })} · `,
        money(today.cost, account.currency),
      ),
      element('dt', {}, t('tenantId')),
      element('dd', {}, element('code', {}, account.tenant_id)),
    ),
  );
}

function couponRows(coupons: readonly AccountCoupon[], currency: string) {
  return coupons.map((coupon) => [
    coupon.program,
    money(coupon.amount, currency),
    money(coupon.paid, currency),
    money(coupon.remaining, currency),
    `${coupon.coverage_bps / 100}%`,
    formatTime(coupon.expires_at),
  ]);
}

function coupons(account: Account): HTMLElement {
  const headers = [
    t('program'),
    t('granted'),
    t('paid'),
    t('remaining'),
    t('coverage'),
    t('expires'),
  ];
  return section(
    'coupons',
    t('coupons'),
    ...couponKinds.map((kind) => {
      const ofKind = account.coupons.filter((coupon) => coupon.kind === kind);
      const caption = couponKindText(kind);
      return ofKind.length === 0
        ? element('p', {}, `${caption}: ${t('none')}`)
        : table(headers, couponRows(ofKind, account.currency), {
            caption,
            moneyColumns: [1, 2, 3],
          });
    }),
  );
}

async function charts(context: PageContext, currency: string): Promise<HTMLElement> {
  const days = lastDays(new Date(), chartDays);
  const from = new Date(`${days[0]}T00:00:00`).toISOString();
  const usage = await context.api.json<List<UsageRecord>>(
    'GET',
    `/v1/account/usage${query({ from, limit: usageRecordsMax })}`,
  );
  const totals = summarizeUsage(usage.data, days, t('unknown'));
  const moneyText = (value: bigint) => `${fromMicro(value)} ${currency}`;
  const tokenText = (value: bigint) => formatCount(Number(value));
  return section(
    'usage',
    t('spendPerDay'),
    element('p', {}, t('usageWindow', { days: chartDays, count: usage.data.length })),
    usage.has_more === true
      ? element('p', {}, t('usageTruncated', { count: usage.data.length }))
      : null,
    element(
      'div',
      { class: 'charts' },
      barChart({
        label: t('spendPerDay'),
        days,
        series: totals.spendByModel,
        formatValue: moneyText,
      }),
      barChart({
        label: t('spendPerRegion'),
        days,
        series: totals.spendByRegion,
        formatValue: moneyText,
      }),
      barChart({
        label: t('tokensPerDay'),
        days,
        series: totals.tokensByModel,
        formatValue: tokenText,
      }),
    ),
  );
}

function keyRows(context: PageContext, list: KeyList, status: HTMLElement) {
  return list.data.map((key) => [
    key.name ?? '',
    element('code', {}, `${key.key_prefix}…`),
    key.models === null ? t('allModels') : key.models.join(', '),
    key.status,
    formatTime(key.created_at),
    list.allow_key_management && key.status === 'active'
      ? button(
          t('revoke'),
          () => {
            context.api
              .json('DELETE', `/v1/account/keys/${key.id}`)
              .then(context.refresh)
              .catch((error: unknown) => {
                status.textContent = failureText(error);
              });
          },
          { 'aria-label': `${t('revoke')} ${key.key_prefix}`, 'data-key': key.id },
        )
      : '',
  ]);
}

/** The form that issues a key, and where its secret is shown, once. */
function issueKeyForm(context: PageContext, status: HTMLElement): HTMLElement {
  const name = field(t('keyName'), { name: 'key-name' });
  const models = field(t('modelsOptional'), { name: 'key-models' });
  const issued = element('div', { id: 'issued-key', 'aria-live': 'polite' });
  const form = element(
    'form',
    { class: 'inline-form', 'aria-label': t('createKey') },
    name.wrapper,
    models.wrapper,
    element('button', { type: 'submit' }, t('createKey')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const listed = models.input.value
      .split(',')
      .map((model) => model.trim())
      .filter((model) => model !== '');
    const body = {
      ...(name.input.value.trim() === '' ? {} : { name: name.input.value.trim() }),
      ...(listed.length === 0 ? {} : { models: listed }),
    };
    context.api
      .json<IssuedKey>('POST', '/v1/account/keys', body)
      .then((key) =>
        replace(issued, element('p', {}, t('newKeyOnce')), element('pre', {}, key.key)),
      )
      .catch((error: unknown) => {
        status.textContent = failureText(error);
      });
  });
  return element('div', {}, form, issued);
}

function keys(context: PageContext, list: KeyList): HTMLElement {
  const status = statusLine();
  return section(
    'keys',
    t('keys'),
    element('p', {}, list.allow_key_management ? t('keysManaged') : t('keysReadOnly')),
    status,
    table(
      [t('name'), 'ID', t('models'), t('status'), t('created'), ''],
      keyRows(context, list, status),
    ),
    list.allow_key_management ? issueKeyForm(context, status) : null,
  );
}

function batchProgress(batch: Batch): HTMLElement {
  const counts = batch.request_counts;
  const done = counts.completed + counts.failed;
  return element(
    'span',
    { class: 'progress' },
    element('progress', {
      max: Math.max(counts.total, 1),
      value: done,
      'aria-label': `${batch.id} ${done}/${counts.total}`,
    }),
    ` ${done}/${counts.total}`,
  );
}

function batches(list: List<Batch>, currency: string): HTMLElement {
  return section(
    'batches',
    t('batches'),
    list.data.length === 0
      ? element('p', {}, t('none'))
      : table(
          ['ID', t('status'), t('progress'), t('cost'), t('created')],
          list.data.map((batch) => [
            element('code', {}, batch.id),
            batch.status,
            batchProgress(batch),
            money(batch.cost, currency),
            formatTime(batch.created_at),
          ]),
          { moneyColumns: [3] },
        ),
  );
}

function leases(list: List<Lease>, currency: string): HTMLElement {
  return section(
    'leases',
    t('leases'),
    list.data.length === 0
      ? element('p', {}, t('none'))
      : table(
          ['ID', t('model'), t('region'), t('accelerators'), t('period'), t('status'), t('cost')],
          list.data.map((lease) => [
            element('code', {}, lease.id),
            lease.model,
            lease.region,
            String(lease.accelerators),
            `${formatTime(lease.starts_at)} – ${formatTime(lease.ends_at)}`,
            lease.status,
            money(lease.cost, currency),
          ]),
          { moneyColumns: [6] },
        ),
  );
}

export const tenantPage: Page = {
  id: 'tenant',
  title: 'navTenant',
  async render(context) {
    const [account, keyList, batchList, leaseList] = await Promise.all([
      context.api.json<Account>('GET', '/v1/account'),
      context.api.json<KeyList>('GET', '/v1/account/keys'),
      context.api.json<List<Batch>>('GET', '/v1/batches?limit=20'),
      context.api.json<List<Lease>>('GET', '/v1/leases?limit=20'),
    ]);
    return element(
      'div',
      { class: 'page' },
      summary(account),
      coupons(account),
      await charts(context, account.currency),
      keys(context, keyList),
      batches(batchList, account.currency),
      leases(leaseList, account.currency),
    );
  },
};
