/** A new element with a class and text; text is always set as textContent (target data is never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A dotted name (`__main__.SESSION_CACHE`) as text with a line-break opportunity after each dot and
 * comma, so a narrow column wraps it between its parts rather than letter by letter.
 */
export function dottedName(text: string, cls?: string): HTMLSpanElement {
  const span = el('span', cls);
  text.split(/(?<=[.,])/).forEach((part, i) => {
    if (i) span.append(document.createElement('wbr'));
    span.append(part);
  });
  return span;
}

/** A button with a tooltip (its accessible description too) that runs `onClick`. */
export function button(text: string, title: string, onClick: () => void, cls = 'btn'): HTMLButtonElement {
  const b = el('button', cls, text);
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}
