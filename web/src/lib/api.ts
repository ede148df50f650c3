// The one place that talks to the Nook server. Kept small and isolated on purpose:
// it will be replaced by an openapi-fetch client generated from openapi/openapi.json.

import { clearToken, getToken } from './token';

/** An error answer from the server (or a failure to reach it, with status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before retrying, from a `Retry-After` header (429/503), if any. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a `Retry-After` header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function fallbackMessage(status: number): string {
  if (status === 401) return 'Please sign in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many attempts. Please wait and try again.';
  if (status >= 500) return 'The server had a problem. Please try again.';
  return `Request failed (HTTP ${status}).`;
}

/**
 * Build an ApiError from a non-2xx response. The server answers
 * `{"error": "human message", "code": "stable_code"}`; anything else gets a generic message.
 */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let message = '';
  let code = '';
  try {
    const body: unknown = JSON.parse(await res.text());
    if (isRecord(body)) {
      if (typeof body.error === 'string') message = body.error.trim();
      if (typeof body.code === 'string') code = body.code.trim();
    }
  } catch {
    // Not JSON (e.g. a proxy error page): fall through to the generic message.
  }
  return new ApiError(
    res.status,
    code || `http_${res.status}`,
    message || fallbackMessage(res.status),
    parseRetryAfter(res.headers.get('Retry-After')),
  );
}

let unauthorizedHandler: (() => void) | null = null;

/** Called after a 401 on an authenticated request (the token has already been cleared). */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  /** JSON request body. */
  body?: unknown;
  /** Send the stored Bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

/** fetch wrapper: Bearer header, JSON in and out, ApiError on failure. */
export async function request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers = new Headers({ Accept: 'application/json' });
  const token = opts.auth === false ? null : getToken();
  if (token) headers.set('Authorization', `Bearer ${token}`);
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (opts.body !== undefined) {
    headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;

  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network_error', 'Could not reach the server. Check your connection.');
  }

  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (res.status === 401 && token) {
      clearToken();
      unauthorizedHandler?.();
    }
    throw err;
  }

  const text = await res.text();
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'invalid_response', 'The server sent an unreadable answer.');
  }
}

// ---- Endpoints -------------------------------------------------------------

export interface LoginResponse {
  token: string;
}

export interface SelfUser {
  username: string;
  name: string;
  role: string;
}

export const api = {
  login(username: string, password: string): Promise<LoginResponse> {
    return request<LoginResponse>('POST', '/api/user/login', {
      body: { username, password },
      auth: false,
    });
  },
  getSelf(signal?: AbortSignal): Promise<SelfUser> {
    return request<SelfUser>('GET', '/api/user/get_self', signal ? { signal } : {});
  },
  logout(): Promise<void> {
    return request<void>('POST', '/api/user/logout');
  },
};
