// The SQL editor: a textarea with transparent text over a <pre> holding the highlighted SQL,
// kept in step on every input and scroll, with line numbers beside it. Tab inserts two spaces; Ctrl+Enter (Cmd+Enter)
// calls `onRun`. The textarea keeps its native undo, selection and IME behaviour.

import { el } from '../format.js';
import { tokenize } from './sql-text.js';

const CLASS = { keyword: 'tk-kw', function: 'tk-fn', string: 'tk-str', ident: 'tk-id', number: 'tk-num', comment: 'tk-com' };

/** Highlighted SQL as a fragment of spans (text nodes for plain tokens). */
export function highlight(sql) {
  const frag = document.createDocumentFragment();
  for (const t of tokenize(sql)) {
    const cls = CLASS[t.type];
    frag.append(cls ? el('span', { class: cls }, t.text) : document.createTextNode(t.text));
  }
  // A trailing newline needs a character after it to take up its line in the <pre>.
  frag.append(document.createTextNode('\n '));
  return frag;
}

/** True for Ctrl+Enter and Cmd+Enter. */
export const isRunKey = (e) => e.key === 'Enter' && (e.ctrlKey || e.metaKey);

/** Inserts text at the selection as typing would (undoable where the browser allows). */
export function insertAtCursor(ta, text) {
  ta.focus();
  // execCommand keeps the browser's undo stack; setRangeText is the fallback.
  if (!document.execCommand || !document.execCommand('insertText', false, text)) {
    ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

export class SqlEditor {
  /** `onChange(sql)` after each edit; `onRun()` on Ctrl+Enter. */
  constructor(container, { onChange, onRun }) {
    this.pre = el('pre', { class: 'sql-highlight', 'aria-hidden': 'true' });
    this.ta = el('textarea', {
      class: 'sql-input', dataset: { testid: 'sql-editor' }, spellcheck: 'false', wrap: 'off',
      autocapitalize: 'off', autocomplete: 'off', 'aria-label': 'SQL',
      placeholder: 'SELECT channel, COUNT(*) FROM wikipedia GROUP BY 1 ORDER BY 2 DESC LIMIT 10',
    });
    this.gutter = el('pre', { class: 'sql-gutter', 'aria-hidden': 'true' });
    this.lines = 0;
    this.root = el('div', { class: 'sql-editor' }, this.gutter, el('div', { class: 'sql-area' }, this.pre, this.ta));
    container.append(this.root);
    this.ta.addEventListener('input', () => {
      this.render();
      onChange(this.ta.value);
    });
    this.ta.addEventListener('scroll', () => this.syncScroll());
    this.ta.addEventListener('keydown', (e) => {
      if (isRunKey(e)) {
        e.preventDefault();
        onRun();
      } else if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
        e.preventDefault();
        insertAtCursor(this.ta, '  ');
      }
    });
  }

  get value() {
    return this.ta.value;
  }

  set value(sql) {
    this.ta.value = sql;
    this.render();
  }

  render() {
    const sql = this.ta.value;
    this.pre.replaceChildren(highlight(sql));
    const lines = sql.split('\n').length;
    if (lines !== this.lines) {
      this.lines = lines;
      this.gutter.textContent = `${Array.from({ length: lines }, (_, i) => i + 1).join('\n')}\n `;
    }
    this.syncScroll();
  }

  syncScroll() {
    this.pre.scrollTop = this.ta.scrollTop;
    this.pre.scrollLeft = this.ta.scrollLeft;
    this.gutter.scrollTop = this.ta.scrollTop;
  }

  focus() {
    this.ta.focus();
  }
}
