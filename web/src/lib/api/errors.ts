// How the server's refusals reach the UI: every failure becomes an `ApiError` carrying the
// server's stable `code` and its human message, so components show what the server said.

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

export function isRecord(v: unknown): v is Record<string, unknown> {
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
 * Build an ApiError from a status, the parsed body (if any) and the headers. The server answers
 * `{"error": "human message", "code": "stable_code"}`; anything else gets a generic message.
 */
export function apiError(status: number, body: unknown, headers: Headers): ApiError {
  let message = '';
  let code = '';
  if (isRecord(body)) {
    if (typeof body.error === 'string') message = body.error.trim();
    if (typeof body.code === 'string') code = body.code.trim();
  }
  return new ApiError(
    status,
    code || `http_${status}`,
    message || fallbackMessage(status),
    parseRetryAfter(headers.get('Retry-After')),
  );
}

/** Build an ApiError from a non-2xx response whose body has not been read yet. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = JSON.parse(await res.text());
  } catch {
    // Not JSON (e.g. a proxy error page): fall through to the generic message.
  }
  return apiError(res.status, body, res.headers);
}

/** The error for a request that never got an answer. */
export function networkError(): ApiError {
  return new ApiError(0, 'network_error', 'Could not reach the server. Check your connection.');
}

/** A message fit to show a person, whatever was thrown. */
export function messageOf(e: unknown, fallback = 'Something went wrong. Please try again.'): string {
  if (e instanceof ApiError) return e.message;
  return fallback;
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}
