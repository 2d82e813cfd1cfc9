/**
 * The web console's entry point (built into dist/console/console.js): the sign-in form, the
 * header with the language switch, the navigation for the signed-in kind of user, and the page
 * the location hash names. A credential is checked with one read of the API its kind may use
 * before it is kept; a refusal shows the gateway's own message.
 */
import { apiClient } from './api-client.ts';
import { button, element, field, replace, selectField } from './dom.ts';
import { initialLanguage, language, setLanguage, t } from './i18n.ts';
import { failureText, type Page, type PageContext } from './page.ts';
import { apiReferencePage } from './pages/api-reference-page.ts';
import {
  operatorLedgerPage,
  operatorPoolPage,
  operatorPricesPage,
  operatorProgramsPage,
} from './pages/operator-pages.ts';
import { operatorTenantsPage } from './pages/operator-tenants-page.ts';
import { providerPage } from './pages/provider-page.ts';
import { tenantPage } from './pages/tenant-page.ts';
import {
  forgetSession,
  keepSession,
  kindOfCredential,
  type Session,
  storedSession,
  type UserKind,
} from './session.ts';

const pagesOf: Record<UserKind, readonly Page[]> = {
  tenant: [tenantPage, apiReferencePage],
  provider: [providerPage, apiReferencePage],
  operator: [
    operatorTenantsPage,
    operatorPricesPage,
    operatorPoolPage,
    operatorProgramsPage,
    operatorLedgerPage,
    apiReferencePage,
  ],
};

/** The read that proves a credential of each kind, before anything else is shown. */
const probeOf: Record<UserKind, string> = {
  tenant: '/v1/account',
  provider: '/provider/v1/backends',
  operator: '/admin/v1/tenants?limit=1',
};

const kindMessage = {
  tenant: 'kindTenant',
  provider: 'kindProvider',
  operator: 'kindOperator',
} as const;

function root(): HTMLElement {
  const node = document.getElementById('console-root');
  if (node === null) {
    throw new Error('the console page has no #console-root');
  }
  return node;
}

function languageSwitch(): HTMLElement {
  const choice = selectField(t('language'), 'language', [
    ['zh', '中文'],
    ['en', 'English'],
  ]);
  choice.select.value = language();
  choice.select.addEventListener('change', () => {
    const chosen = choice.select.value;
    if (chosen === 'en' || chosen === 'zh') {
      setLanguage(chosen, true);
      render();
    }
  });
  return choice.wrapper;
}

function header(session: Session | undefined): HTMLElement {
  return element(
    'header',
    { class: 'top' },
    element('h1', {}, t('appTitle')),
    session === undefined
      ? null
      : element('span', { class: 'who' }, t('signedInAs', { kind: t(kindMessage[session.kind]) })),
    languageSwitch(),
    session === undefined
      ? null
      : button(t('signOut'), () => {
          forgetSession();
          window.location.hash = '';
          render();
        }),
  );
}

function signInForm(): HTMLElement {
  const credential = field(
    t('credential'),
    { name: 'credential', type: 'password', required: true, autocomplete: 'off' },
    t('credentialHelp'),
  );
  const alert = element('p', { class: 'problem', role: 'alert', id: 'sign-in-error' });
  const form = element(
    'form',
    { class: 'sign-in', 'aria-label': t('signIn') },
    element('h2', {}, t('signIn')),
    credential.wrapper,
    element('button', { type: 'submit' }, t('signIn')),
    alert,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = credential.input.value.trim();
    const session: Session = { credential: value, kind: kindOfCredential(value) };
    alert.textContent = t('loading');
    apiClient(value)
      .json('GET', probeOf[session.kind])
      .then(() => {
        keepSession(session);
        window.location.hash = pagesOf[session.kind][0]?.id ?? '';
        render();
      })
      .catch((error: unknown) => {
        alert.textContent = t('credentialRefused', {
          message: error instanceof Error ? error.message : String(error),
        });
        credential.input.focus();
      });
  });
  return form;
}

function navigation(pages: readonly Page[], current: Page): HTMLElement {
  return element(
    'nav',
    { 'aria-label': t('appTitle') },
    element(
      'ul',
      {},
      ...pages.map((page) =>
        element(
          'li',
          {},
          element(
            'a',
            { href: `#${page.id}`, ...(page === current ? { 'aria-current': 'page' } : {}) },
            t(page.title),
          ),
        ),
      ),
    ),
  );
}

function showPage(main: HTMLElement, page: Page, session: Session): void {
  const context: PageContext = {
    api: apiClient(session.credential),
    session,
    refresh: () => showPage(main, page, session),
  };
  main.setAttribute('aria-busy', 'true');
  page
    .render(context)
    .then((content) => replace(main, content))
    .catch((error: unknown) =>
      replace(main, element('p', { class: 'problem', role: 'alert' }, failureText(error))),
    )
    .finally(() => main.setAttribute('aria-busy', 'false'));
}

function render(): void {
  const session = storedSession();
  const main = element('main', { id: 'main', tabindex: '-1' });
  if (session === undefined) {
    replace(root(), header(undefined), main);
    replace(main, signInForm());
    return;
  }
  const pages = pagesOf[session.kind];
  const page =
    pages.find((candidate) => candidate.id === window.location.hash.slice(1)) ?? pages[0];
  if (page === undefined) {
    return;
  }
  document.title = `${t(page.title)} · ${t('appTitle')}`;
  replace(root(), header(session), navigation(pages, page), main);
  replace(main, element('p', {}, t('loading')));
  showPage(main, page, session);
}

setLanguage(initialLanguage(), false);
window.addEventListener('hashchange', render);
render();
