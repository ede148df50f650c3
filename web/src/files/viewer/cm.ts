// CodeMirror 6, loaded only when a text file is previewed or edited (its own chunks; the
// language of the file loads on demand from @codemirror/language-data).

import { indentWithTab } from '@codemirror/commands';
import { LanguageDescription } from '@codemirror/language';
import { languages } from '@codemirror/language-data';
import { Compartment, EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { oneDark } from '@codemirror/theme-one-dark';
import { basicSetup } from 'codemirror';

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  filename: string;
  readOnly: boolean;
  dark: boolean;
  label: string;
  onChange?: (doc: string) => void;
  onSave?: () => void;
}

export interface EditorHandle {
  getDoc(): string;
  setReadOnly(ro: boolean): void;
  setDark(dark: boolean): void;
  focus(): void;
  destroy(): void;
}

const base = EditorView.theme({
  '&': { height: '100%', fontSize: '0.875rem' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', lineHeight: '1.5' },
  '&.cm-focused': { outline: 'none' },
});
const light = EditorView.theme({ '&': { backgroundColor: 'var(--surface)', color: 'var(--text)' }, '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--muted)', borderRight: '1px solid var(--border)' } });

export async function createEditor(o: EditorOptions): Promise<EditorHandle> {
  const lang = new Compartment();
  const ro = new Compartment();
  const theme = new Compartment();
  const roExt = (r: boolean) => [EditorState.readOnly.of(r), EditorView.editable.of(!r)];
  const view = new EditorView({
    parent: o.parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        basicSetup,
        keymap.of([
          indentWithTab,
          {
            key: 'Mod-s',
            preventDefault: true,
            run: () => {
              o.onSave?.();
              return true;
            },
          },
        ]),
        base,
        theme.of(o.dark ? oneDark : light),
        ro.of(roExt(o.readOnly)),
        lang.of([]),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': o.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) o.onChange?.(u.state.doc.toString());
        }),
      ],
    }),
  });
  // The file's language, when known, arrives a moment later.
  const desc = LanguageDescription.matchFilename(languages, o.filename);
  if (desc) {
    desc.load().then(
      (support) => view.dispatch({ effects: lang.reconfigure(support) }),
      () => {},
    );
  }
  return {
    getDoc: () => view.state.doc.toString(),
    setReadOnly: (r) => view.dispatch({ effects: ro.reconfigure(roExt(r)) }),
    setDark: (d) => view.dispatch({ effects: theme.reconfigure(d ? oneDark : light) }),
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
