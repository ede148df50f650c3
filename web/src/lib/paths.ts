// Virtual paths as the API speaks them: absolute, `/`-separated, no trailing slash except `/`.
// These only shape strings for display and requests; the server validates every path.

/** Normalise to `/a/b`: collapse slashes, drop `.` and trailing `/`. `..` is kept for the server to refuse. */
export function normalize(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return '/' + parts.join('/');
}

/**
 * A relative reference (`pic.png`, `./img/a.png`, `../b.png`, percent-encoded or not) resolved
 * against folder `dir`, as a virtual path; `null` for anything that is not a plain relative path
 * (a scheme, `//host`, `/abs`, `#frag`, `?query`) or that climbs above the root.
 */
export function resolveRelative(dir: string, ref: string): string | null {
  if (ref === '' || /^[a-z][a-z0-9+.-]*:/i.test(ref) || /^[/\\#?]/.test(ref)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(ref.replace(/[?#].*$/, ''));
  } catch {
    return null;
  }
  const out = normalize(dir).split('/').filter(Boolean);
  for (const part of decoded.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.length ? '/' + out.join('/') : null;
}

/** `/a/b` + `c` → `/a/b/c`. */
export function join(dir: string, name: string): string {
  const d = normalize(dir);
  return d === '/' ? `/${name}` : `${d}/${name}`;
}

/** Parent folder: `/a/b` → `/a`, `/a` → `/`, `/` → `/`. */
export function parent(p: string): string {
  const n = normalize(p);
  const i = n.lastIndexOf('/');
  return i <= 0 ? '/' : n.slice(0, i);
}

/** Last component: `/a/b.txt` → `b.txt`, `/` → ``. */
export function basename(p: string): string {
  const n = normalize(p);
  return n.slice(n.lastIndexOf('/') + 1);
}

/** Breadcrumbs: `/a/b` → [{name: '/', path: '/'}, {name: 'a', path: '/a'}, {name: 'b', path: '/a/b'}]. */
export function crumbs(p: string): { name: string; path: string }[] {
  const out = [{ name: '/', path: '/' }];
  let acc = '';
  for (const part of normalize(p).split('/').filter(Boolean)) {
    acc += `/${part}`;
    out.push({ name: part, path: acc });
  }
  return out;
}

/** Whether `p` is `dir` itself or inside it, by components (`/pub` does not contain `/pub-x`). */
export function isWithin(p: string, dir: string): boolean {
  const a = normalize(p);
  const d = normalize(dir);
  return d === '/' || a === d || a.startsWith(`${d}/`);
}
