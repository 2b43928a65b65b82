/** A new element with a class and text; text is always set as textContent (target data is never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A button with a tooltip (its accessible description too) that runs `onClick`. */
export function button(text: string, title: string, onClick: () => void, cls = 'btn'): HTMLButtonElement {
  const b = el('button', cls, text);
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}
