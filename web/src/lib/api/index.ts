export { ApiError, apiError, errorFromResponse, isAbort, messageOf, networkError, parseRetryAfter } from './errors';
export { authHeaders, client, makeClient, ok, onUnauthorized, sessionExpired, type Schemas } from './client';
