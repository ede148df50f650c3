// The one client for the Nook API. Its types come from openapi/openapi.json (generated into
// schema.d.ts by `npm run gen:api`, which build and check run first), so an API change that
// breaks the UI breaks the build. Raw transfers (XHR uploads, tus) use `authHeaders()`.

import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { clearToken, getToken } from '../token';
import { ApiError, apiError, isAbort, networkError } from './errors';
import type { components, paths } from './schema';

/** Every schema of the API by name, e.g. `Schemas['FileEntry']`. */
export type Schemas = components['schemas'];
export type ApiPaths = paths;

let unauthorizedHandler: (() => void) | null = null;

/** Called after a 401 on an authenticated request (the token has already been cleared). */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

/** Tell the app the session ended (a 401 answered a request that carried a token). */
export function sessionExpired(): void {
  clearToken();
  unauthorizedHandler?.();
}

/** Headers that authenticate a raw request (uploads, tus, EventSource polyfills). */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    // Login proves who you are by itself; a stale token must not ride along.
    const isLogin = new URL(request.url).pathname === '/api/user/login';
    if (token && !isLogin && !request.headers.has('Authorization')) {
      request.headers.set('Authorization', `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has('Authorization')) sessionExpired();
    return response;
  },
};

/** A client for `baseUrl` (the page's origin in the app; tests pass their own fetch). */
export function makeClient(baseUrl: string, fetchImpl?: typeof fetch): Client<paths> {
  const c = createClient<paths>({
    baseUrl,
    cache: 'no-store',
    credentials: 'same-origin',
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  c.use(auth);
  return c;
}

export const client: Client<paths> = makeClient(typeof location === 'undefined' ? '' : location.origin);

interface Answer<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/**
 * Await an openapi-fetch call and return its data, or throw an `ApiError` with the server's
 * code and message (status 0 `network_error` when there was no answer; aborts are rethrown).
 */
export async function ok<D>(call: Promise<Answer<D>>): Promise<D> {
  let answer: Answer<D>;
  try {
    answer = await call;
  } catch (e) {
    if (isAbort(e)) throw e;
    if (e instanceof ApiError) throw e;
    throw networkError();
  }
  if (!answer.response.ok) throw apiError(answer.response.status, answer.error, answer.response.headers);
  return answer.data as D;
}
