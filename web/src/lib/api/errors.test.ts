import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeClient, ok, onUnauthorized } from './client';
import { ApiError, errorFromResponse, parseRetryAfter } from './errors';

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

describe('client', () => {
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

  function clientWith(answer: () => Response | Promise<Response>) {
    const seen: Request[] = [];
    const fetchMock = async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Request(input, init));
      return answer();
    };
    return { c: makeClient('http://nook.test', fetchMock as typeof fetch), seen };
  }

  it('sends the Bearer token and returns the parsed data', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'tok123');
    const { c, seen } = clientWith(() => jsonResponse(200, { username: 'ada', name: 'Ada', role: 'admin' }));

    const me = await ok(c.GET('/api/user/get_self'));
    expect(me).toMatchObject({ username: 'ada', role: 'admin' });
    expect(seen[0]?.url).toBe('http://nook.test/api/user/get_self');
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.headers.get('Authorization')).toBe('Bearer tok123');
  });

  it('login sends credentials as JSON and never a stale token', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'old');
    const { c, seen } = clientWith(() => jsonResponse(200, { token: 'new' }));

    expect(await ok(c.POST('/api/user/login', { body: { username: 'ada', password: 'pw' } }))).toEqual({ token: 'new' });
    const req = seen[0];
    expect(req?.method).toBe('POST');
    expect(req?.headers.get('Authorization')).toBeNull();
    expect(req?.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(await req?.json()).toEqual({ username: 'ada', password: 'pw' });
  });

  it('401 on an authenticated call clears the token and calls the handler', async () => {
    vi.stubGlobal('localStorage', storage);
    store.set('nook.token', 'expired');
    const { c } = clientWith(() => jsonResponse(401, { error: 'Session expired.', code: 'unauthorized' }));
    const handler = vi.fn();
    onUnauthorized(handler);

    await expect(ok(c.GET('/api/user/get_self'))).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
      message: 'Session expired.',
    });
    expect(store.has('nook.token')).toBe(false);
    expect(handler).toHaveBeenCalledOnce();
  });

  it('401 from login does not trigger the session handler', async () => {
    vi.stubGlobal('localStorage', storage);
    const { c } = clientWith(() => jsonResponse(401, { error: 'Wrong password.', code: 'bad_credentials' }));
    const handler = vi.fn();
    onUnauthorized(handler);

    await expect(ok(c.POST('/api/user/login', { body: { username: 'ada', password: 'x' } }))).rejects.toMatchObject({
      status: 401,
      code: 'bad_credentials',
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it('maps network failures to network_error and keeps the server code of refusals', async () => {
    vi.stubGlobal('localStorage', storage);
    const down = clientWith(() => {
      throw new TypeError('Failed to fetch');
    });
    await expect(ok(down.c.GET('/api/is_up'))).rejects.toMatchObject({ status: 0, code: 'network_error' });

    const refused = clientWith(() => jsonResponse(409, { error: 'It exists.', code: 'already_exists' }));
    await expect(
      ok(refused.c.POST('/api/create_folder', { body: { path: '/', folder_name: 'x' } })),
    ).rejects.toMatchObject({ status: 409, code: 'already_exists', message: 'It exists.' });
  });
});
