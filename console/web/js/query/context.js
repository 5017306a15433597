// The query context editor: JSON in a textarea, checked on every edit. Anything but a JSON
// object gets an inline message and the caller is told the context is invalid.

import { el } from '../format.js';
import { isRunKey } from './editor.js';

/** `{ok: true, value}` for a JSON object (blank text is `{}`), else `{ok: false, error}`. */
export function parseContext(text) {
  if (!text.trim()) return { ok: true, value: {} };
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `Not JSON: ${e.message}` };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { ok: false, error: 'The context must be a JSON object, e.g. {"maxNumTasks": 2}' };
  }
  return { ok: true, value: v };
}

export class ContextEditor {
  /** `onChange(text, parsed)` after each edit; `onRun()` on Ctrl+Enter. */
  constructor(container, { onChange, onRun }) {
    this.ta = el('textarea', {
      class: 'context-input', dataset: { testid: 'context-editor' }, spellcheck: 'false',
      'aria-label': 'Query context (JSON)', placeholder: '{ "maxNumTasks": 2 }',
    });
    this.error = el('div', { class: 'context-error', dataset: { testid: 'context-error' }, role: 'alert', hidden: true });
    this.root = el('div', { class: 'context-editor' },
      el('label', { class: 'panel-label' }, 'Query context'), this.ta, this.error);
    container.append(this.root);
    this.ta.addEventListener('input', () => onChange(this.ta.value, this.check()));
    this.ta.addEventListener('keydown', (e) => {
      if (isRunKey(e)) {
        e.preventDefault();
        onRun();
      }
    });
  }

  /** Parses the text and shows or hides the message. */
  check() {
    const p = parseContext(this.ta.value);
    this.error.hidden = p.ok;
    this.error.textContent = p.ok ? '' : p.error;
    this.ta.classList.toggle('invalid', !p.ok);
    return p;
  }

  get value() {
    return this.ta.value;
  }

  set value(text) {
    this.ta.value = text;
    this.check();
  }
}
