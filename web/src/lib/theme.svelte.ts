// Light, dark or system theme, remembered per browser. Applied by setting `data-theme` on
// <html> ("system" removes it so prefers-color-scheme decides).

export type Theme = 'light' | 'dark' | 'system';

const KEY = 'nook.theme';

function read(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export const theme = $state({ value: read() });

export function applyTheme(t: Theme = theme.value): void {
  const root = document.documentElement;
  if (t === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', t);
}

export function setTheme(t: Theme): void {
  theme.value = t;
  try {
    if (t === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, t);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
  applyTheme(t);
}
