/**
 * The operator's tenants: search by name or id over the list (read page by page), one tenant's
 * money (balance, holds, coupons), and the two writes an operator makes most: a top-up and a
 * coupon grant, each with a reference so a form sent twice moves money once.
 */
import { query } from '../api-client.ts';
import type { List, Tenant } from '../api-types.ts';
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
import { failureText, freshReference, money, type Page, type PageContext } from '../page.ts';

/** Pages of tenants read for the search; more are read on demand. */
const tenantPageSize = 100;

function tenantDetail(tenant: Tenant): HTMLElement {
  const currency = tenant.currency;
  return element(
    'div',
    { id: 'tenant-detail' },
    element('h3', {}, `${tenant.name} (${tenant.id})`),
    element(
      'dl',
      { class: 'figures' },
      element('dt', {}, t('balance')),
      element('dd', { id: 'tenant-balance' }, money(tenant.balance ?? '0.00', currency)),
      element('dt', {}, t('holds')),
      element('dd', {}, money(tenant.holds ?? '0.00', currency)),
    ),
    table(
      [t('kind'), t('program'), t('granted'), t('remaining'), t('status'), t('expires')],
      (tenant.coupons ?? []).map((coupon) => [
        couponKindText(coupon.kind),
        coupon.program,
        money(coupon.amount, currency),
        money(coupon.remaining, currency),
        coupon.status,
        formatTime(coupon.expires_at),
      ]),
      { caption: t('coupons'), moneyColumns: [2, 3] },
    ),
  );
}

function writeForm(
  title: string,
  fields: readonly HTMLElement[],
  submitText: string,
  send: () => Promise<unknown>,
  done: () => void,
): HTMLElement {
  const status = statusLine();
  const form = element(
    'form',
    { class: 'inline-form', 'aria-label': title },
    element('h3', {}, title),
    ...fields,
    element('button', { type: 'submit' }, submitText),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    status.textContent = t('loading');
    send()
      .then(() => {
        status.textContent = t('saved');
        done();
      })
      .catch((error: unknown) => {
        status.textContent = failureText(error);
      });
  });
  return form;
}

function topUpForm(context: PageContext, tenantId: string, done: () => void): HTMLElement {
  const amount = field(t('amount'), {
    name: 'topup-amount',
    required: true,
    inputmode: 'decimal',
    pattern: '\\d+(\\.\\d{1,6})?',
  });
  const reference = field(t('reference'), {
    name: 'topup-reference',
    required: true,
    value: freshReference('console-topup'),
  });
  return writeForm(
    t('topUp'),
    [amount.wrapper, reference.wrapper],
    t('topUp'),
    async () => {
      await context.api.json('POST', `/admin/v1/tenants/${tenantId}/topups`, {
        amount: amount.input.value.trim(),
        reference: reference.input.value.trim(),
      });
      reference.input.value = freshReference('console-topup');
    },
    done,
  );
}

function grantForm(context: PageContext, tenantId: string, done: () => void): HTMLElement {
  const kind = selectField(t('kind'), 'coupon-kind', [
    ['compute', t('couponKind_compute')],
    ['storage', t('couponKind_storage')],
    ['transport', t('couponKind_transport')],
  ]);
  const amount = field(t('amount'), {
    name: 'coupon-amount',
    required: true,
    inputmode: 'decimal',
    pattern: '\\d+(\\.\\d{1,6})?',
  });
  const program = field(t('program'), { name: 'coupon-program', value: 'platform' });
  const expires = field(t('expires'), { name: 'coupon-expires', type: 'date' });
  const reference = field(t('reference'), {
    name: 'coupon-reference',
    required: true,
    value: freshReference('console-coupon'),
  });
  const fields = [
    kind.wrapper,
    amount.wrapper,
    program.wrapper,
    expires.wrapper,
    reference.wrapper,
  ];
  return writeForm(
    t('grantCoupon'),
    fields,
    t('grant'),
    async () => {
      const expiresAt =
        expires.input.value === ''
          ? undefined
          : new Date(`${expires.input.value}T23:59:59`).toISOString();
      await context.api.json('POST', `/admin/v1/tenants/${tenantId}/coupons`, {
        kind: kind.select.value,
        amount: amount.input.value.trim(),
        program: program.input.value.trim(),
        reference: reference.input.value.trim(),
        ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
      });
      reference.input.value = freshReference('console-coupon');
    },
    done,
  );
}

/** Whether the tenant's own keys may issue and revoke its keys: a switch the operator flips. */
function keyManagementSwitch(context: PageContext, tenant: Tenant, done: () => void): HTMLElement {
  const choice = field(t('allowKeyManagement'), {
    name: 'allow-key-management',
    type: 'checkbox',
    checked: tenant.allow_key_management,
  });
  const status = statusLine();
  choice.input.addEventListener('change', () => {
    context.api
      .json('PATCH', `/admin/v1/tenants/${tenant.id}`, {
        allow_key_management: choice.input.checked,
      })
      .then(done)
      .catch((error: unknown) => {
        status.textContent = failureText(error);
      });
  });
  return element('div', { class: 'switch' }, choice.wrapper, status);
}

async function showTenant(
  context: PageContext,
  panel: HTMLElement,
  tenantId: string,
): Promise<void> {
  const reload = () => {
    showTenant(context, panel, tenantId).catch((error: unknown) =>
      replace(panel, failureText(error)),
    );
  };
  const tenant = await context.api.json<Tenant>('GET', `/admin/v1/tenants/${tenantId}`);
  replace(
    panel,
    tenantDetail(tenant),
    keyManagementSwitch(context, tenant, reload),
    element(
      'div',
      { class: 'forms' },
      topUpForm(context, tenantId, reload),
      grantForm(context, tenantId, reload),
    ),
  );
}

function matches(tenant: Tenant, search: string): boolean {
  const needle = search.trim().toLowerCase();
  return (
    needle === '' ||
    tenant.name.toLowerCase().includes(needle) ||
    tenant.id.toLowerCase().includes(needle)
  );
}

export const operatorTenantsPage: Page = {
  id: 'tenants',
  title: 'navTenants',
  async render(context) {
    const loaded: Tenant[] = [];
    let cursor: string | null | undefined;
    const panel = element('div', { class: 'tenant-panel' });
    const listBox = element('div');
    const search = field(t('search'), {
      name: 'tenant-search',
      type: 'search',
      autocomplete: 'off',
    });
    const more = button(t('moreTenants'), () => {
      readMore().catch((error: unknown) => replace(listBox, failureText(error)));
    });
    const draw = () => {
      const shown = loaded.filter((tenant) => matches(tenant, search.input.value));
      replace(
        listBox,
        table(
          [t('name'), 'ID', t('region'), t('created'), ''],
          shown.map((tenant) => [
            tenant.name,
            element('code', {}, tenant.id),
            tenant.home_region ?? '',
            formatTime(tenant.created_at),
            button(
              t('open'),
              () => {
                showTenant(context, panel, tenant.id).catch((error: unknown) =>
                  replace(panel, failureText(error)),
                );
              },
              { 'aria-label': `${t('open')} ${tenant.name}`, 'data-tenant': tenant.id },
            ),
          ]),
        ),
      );
      more.hidden = cursor === null;
    };
    const readMore = async () => {
      const page = await context.api.json<List<Tenant>>(
        'GET',
        `/admin/v1/tenants${query({ limit: tenantPageSize, after: cursor ?? undefined })}`,
      );
      loaded.push(...page.data);
      cursor = page.has_more === true ? (page.next_cursor ?? null) : null;
      draw();
    };
    search.input.addEventListener('input', draw);
    await readMore();
    return element(
      'div',
      { class: 'page' },
      section('tenants', t('navTenants'), search.wrapper, listBox, more),
      panel,
    );
  },
};
