// Names the user types (new folder, new file, rename) and names the app picks (copies).
// The server validates every name again; this only gives quick, clear feedback.

/** Why a name cannot be used, or null when it looks fine. */
export function nameProblem(raw: string, existing: ReadonlySet<string> | null = null, current?: string): string | null {
  const name = raw.trim();
  if (name === '') return 'Enter a name.';
  if (name === '.' || name === '..') return 'This name is reserved.';
  if (name.includes('/') || name.includes('\\')) return 'A name cannot contain / or \\.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'A name cannot contain control characters.';
  if (new TextEncoder().encode(name).length > 255) return 'This name is too long.';
  if (existing && name !== current && existing.has(name)) return 'Something with this name is already here.';
  return null;
}

/** `a.txt` → `a (copy).txt`, then `a (copy 2).txt`, … — the first free name. */
export function copyName(name: string, taken: ReadonlySet<string>, isDir = false): string {
  const dot = isDir ? -1 : name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 1; n < 10_000; n++) {
    const candidate = `${stem} (copy${n === 1 ? '' : ` ${n}`})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
  return `${stem} (copy ${Date.now()})${ext}`;
}

/** The part of a name to pre-select when renaming a file: everything before the extension. */
export function stemLength(name: string, isDir: boolean): number {
  if (isDir) return name.length;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? dot : name.length;
}
