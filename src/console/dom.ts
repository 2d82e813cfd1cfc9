/**
 * The few DOM builders every page uses: elements from a tag and attributes, tables, labelled form
 * fields and a status line read out by screen readers. Text always goes in as text nodes, never as
 * HTML, so nothing the API returns can become markup.
 */

export type Child = Node | string | null | undefined | false;

type Attributes = Record<string, string | number | boolean | undefined>;

export function element<Tag extends keyof HTMLElementTagNameMap>(
  tag: Tag,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[Tag] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) {
      node.setAttribute(name, '');
    } else if (value !== undefined && value !== false) {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }
}

/** Replaces what `parent` shows. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild !== null) {
    parent.removeChild(parent.firstChild);
  }
  append(parent, children);
}

/** A titled section of a page; `id` names it for headings and tests. */
export function section(id: string, title: string, ...children: Child[]): HTMLElement {
  return element(
    'section',
    { id, 'aria-labelledby': `${id}-title` },
    element('h2', { id: `${id}-title` }, title),
    ...children,
  );
}

/** A table with a header row; cells are text or nodes. Money cells get the `money` class. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly Child[])[],
  options: { caption?: string; moneyColumns?: readonly number[] } = {},
): HTMLElement {
  const money = new Set(options.moneyColumns ?? []);
  return element(
    'div',
    { class: 'table-scroll' },
    element(
      'table',
      {},
      options.caption === undefined ? null : element('caption', {}, options.caption),
      element(
        'thead',
        {},
        element('tr', {}, ...headers.map((header) => element('th', { scope: 'col' }, header))),
      ),
      element(
        'tbody',
        {},
        ...rows.map((cells) =>
          element(
            'tr',
            {},
            ...cells.map((cell, index) =>
              element('td', money.has(index) ? { class: 'money' } : {}, cell),
            ),
          ),
        ),
      ),
    ),
  );
}

let fieldCount = 0;

/** An input with its label (for= its id), and an optional hint tied to it by aria-describedby. */
export function field(
  label: string,
  attributes: Attributes & { name: string },
  hint?: string,
): { wrapper: HTMLElement; input: HTMLInputElement } {
  fieldCount += 1;
  const id = `field-${attributes.name}-${fieldCount}`;
  const hintId = `${id}-hint`;
  const input = element('input', {
    id,
    ...attributes,
    ...(hint === undefined ? {} : { 'aria-describedby': hintId }),
  });
  const wrapper = element(
    'div',
    { class: 'field' },
    element('label', { for: id }, label),
    input,
    hint === undefined ? null : element('small', { id: hintId }, hint),
  );
  return { wrapper, input };
}

/** A select with its label, over value/text pairs. */
export function selectField(
  label: string,
  name: string,
  options: readonly (readonly [string, string])[],
): { wrapper: HTMLElement; select: HTMLSelectElement } {
  fieldCount += 1;
  const id = `field-${name}-${fieldCount}`;
  const select = element(
    'select',
    { id, name },
    ...options.map(([value, text]) => element('option', { value }, text)),
  );
  return {
    wrapper: element('div', { class: 'field' }, element('label', { for: id }, label), select),
    select,
  };
}

/** A line that says how an action went; screen readers announce its changes. */
export function statusLine(): HTMLElement {
  return element('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
}

export function button(
  text: string,
  onClick: () => void,
  attributes: Attributes = {},
): HTMLButtonElement {
  const node = element('button', { type: 'button', ...attributes }, text);
  node.addEventListener('click', onClick);
  return node;
}
