// The API's own description (`/api/openapi.json`, public), read once per page load for the
// role matrix's groups and endpoint summaries. Without it the matrix groups by path prefix.

import type { SpecLike } from './matrix';

let cached: Promise<SpecLike | null> | null = null;

export function loadSpec(): Promise<SpecLike | null> {
  cached ??= fetch('/api/openapi.json', { cache: 'no-store' })
    .then((r) => (r.ok ? (r.json() as Promise<SpecLike>) : null))
    .catch(() => null)
    .then((spec) => {
      if (!spec) cached = null;
      return spec;
    });
  return cached;
}
