import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, errorFromResponse, onUnauthorized, parseRetryAfter, request } from './api';

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

describe('errorFromResponse', () => {
  it('reads the server error shape', async () => {
    const err = await errorFromResponse(
      jsonResponse(401, { error: 'Wrong username or password.', code: 'bad_credentials' }),
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ApiError');
    expect(err.status).toBe(401);
    expect(err.code).toBe('bad_credentials');
    expect(err.message).toBe('Wrong username or password.');
    expect(err.retryAfter).toBeNull();
  });

  it('reads Retry-After on 429', async () => {
    const err = await errorFromResponse(
      jsonResponse(429, { error: 'Too many login attempts.', code: 'rate_limited' }, { 'Retry-After': '30' }),
    );
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limited');
    expect(err.message).toBe('Too many login attempts.');
    expect(err.retryAfter).toBe(30);
  });

  it('falls back when the body is not JSON', async () => {
    const err = await errorFromResponse(new Response('<html>Bad Gateway</html>', { status: 502 }));
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/server/i);
  });

  it('falls back when fields are missing or of the wrong type', async () => {
    const err = await errorFromResponse(jsonResponse(400, { error: 42, code: null }));
    expect(err.code).toBe('http_400');
    expect(err.message).toBe('Request failed (HTTP 400).');
    const arr = await errorFromResponse(jsonResponse(400, ['nope']));
    expect(arr.code).toBe('http_400');
  });
});

describe('parseRetryAfter', () => {
  it('parses seconds and HTTP dates', () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('0')).toBe(0);
    expect(parseRetryAfter(' 120 ')).toBe(120);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeNull();
  });
});

describe('request', () => {
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  };

  afterEach(() => {
    vi.unstubAllGlobals();
    store.clear();
    onUnauthorized(null);
  });

  it('sends JSON and the Bearer token, parses JSON', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'tok123');
    const fetchMock = vi.fn(async () => jsonResponse(200, { username: 'ada', name: 'Ada', role: 'admin' }));
    vi.stubGlobal('fetch', fetchMock);

    const me = await api.getSelf();
    expect(me).toEqual({ username: 'ada', name: 'Ada', role: 'admin' });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/user/get_self');
    expect(init.method).toBe('GET');
    expect(new Headers(init.headers).get('Authorization')).toBe('Bearer tok123');
  });

  it('login sends credentials without a token', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'old');
    const fetchMock = vi.fn(async () => jsonResponse(200, { token: 'new' }));
    vi.stubGlobal('fetch', fetchMock);

    expect(await api.login('ada', 'pw')).toEqual({ token: 'new' });
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    const headers = new Headers(init.headers);
    expect(init.method).toBe('POST');
    expect(headers.get('Authorization')).toBeNull();
    expect(headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(init.body as string)).toEqual({ username: 'ada', password: 'pw' });
  });

  it('401 on an authenticated call clears the token and calls the handler', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'expired');
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(401, { error: 'Session expired.', code: 'unauthorized' })));
    const handler = vi.fn();
    onUnauthorized(handler);

    await expect(api.getSelf()).rejects.toMatchObject({ status: 401, code: 'unauthorized', message: 'Session expired.' });
    expect(store.has('nook.token')).toBe(false);
    expect(handler).toHaveBeenCalledOnce();
  });

  it('401 from login does not trigger the session handler', async () => {
    vi.stubGlobal('localStorage', storage);
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(401, { error: 'Wrong password.', code: 'bad_credentials' })));
    const handler = vi.fn();
    onUnauthorized(handler);

    await expect(api.login('ada', 'x')).rejects.toMatchObject({ status: 401, code: 'bad_credentials' });
    expect(handler).not.toHaveBeenCalled();
  });

  it('maps network failures and empty bodies', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => { throw new TypeError('Failed to fetch'); }));
    await expect(request('GET', '/api/x')).rejects.toMatchObject({ status: 0, code: 'network_error' });

    vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 204 })));
    await expect(api.logout()).resolves.toBeUndefined();
  });
});
