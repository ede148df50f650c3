// The browser side of uploads: small files as multipart POST /api/upload through XHR (for
// upload progress), large ones through tus at /api/tus with tus-js-client (loaded on first
// use), which resumes after a dropped connection and — through the fingerprint it keeps in
// localStorage — after a page reload when the same file is added again.

import { apiError, authHeaders, client, ok, sessionExpired } from '../../lib/api';
import { ApiError } from '../../lib/api';
import { can, session } from '../../lib/session.svelte';
import { UploadFailure, type Transport, type UploadItem, type UploadOptions } from './queue';

/** Bytes per tus PATCH: a dropped connection loses at most this much. */
const TUS_CHUNK = 16 * 1024 * 1024;

function failure(status: number, body: string, headers: Headers = new Headers()): UploadFailure {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON
  }
  if (status === 401) sessionExpired();
  const e = apiError(status, parsed, headers);
  return new UploadFailure(status, e.code, e.message);
}

function abortError(): DOMException {
  return new DOMException('Aborted', 'AbortError');
}

function formUpload(item: UploadItem, opts: UploadOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => opts.onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const h = new Headers();
        const ra = xhr.getResponseHeader('Retry-After');
        if (ra) h.set('Retry-After', ra);
        reject(failure(xhr.status, xhr.responseText, h));
      }
    };
    xhr.onerror = () => reject(new UploadFailure(0, 'network_error', 'Could not reach the server. Check your connection.'));
    xhr.onabort = () => reject(abortError());
    opts.signal.addEventListener('abort', () => xhr.abort());
    // The server reads `path` and `overwrite` before the file parts.
    const form = new FormData();
    form.append('path', item.dir);
    form.append('overwrite', opts.overwrite ? 'true' : 'false');
    form.append('file', item.file, item.file.name);
    xhr.send(form);
  });
}

async function tusUpload(item: UploadItem, opts: UploadOptions): Promise<void> {
  const tus = await import('tus-js-client');
  if (opts.signal.aborted) throw abortError();
  const who = session.user?.username ?? '';
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(item.file, {
      endpoint: '/api/tus',
      chunkSize: TUS_CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: item.file.name, path: item.dir, overwrite: opts.overwrite ? 'true' : 'false' },
      // Same file, same folder, same user: resume. Anything else starts afresh.
      fingerprint: async (f) => {
        const file = f as File;
        return ['nook-tus', who, item.dir, file.name, file.size, file.lastModified].join('|');
      },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => {
        for (const [k, v] of Object.entries(authHeaders())) req.setHeader(k, v);
      },
      onProgress: (sent) => opts.onProgress(sent),
      onShouldRetry: (err) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        // Retry lost connections and server hiccups, not refusals.
        return status === 0 || status === 423 || status === 429 || status >= 500;
      },
      onSuccess: () => resolve(),
      onError: (err) => {
        const res = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse;
        if (res && res.getStatus() > 0) reject(failure(res.getStatus(), res.getBody()));
        else reject(new UploadFailure(0, 'network_error', 'The connection was lost. Retry to resume.'));
      },
    });
    opts.signal.addEventListener('abort', () => {
      // Terminate: the server discards the bytes received so far.
      void upload.abort(true).catch(() => {});
      reject(abortError());
    });
    void upload.findPreviousUploads().then((previous) => {
      if (opts.signal.aborted) return;
      const last = previous.sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
      if (last) upload.resumeFromPreviousUpload(last);
      upload.start();
    });
  });
}

/** tus for large files; but only through the endpoints the caller's role allows. */
function useTus(item: UploadItem): boolean {
  if (!can('/api/upload')) return true;
  if (!can('/api/tus')) return false;
  return item.method === 'tus';
}

export const browserTransport: Transport<File> = {
  upload: (item, opts) => (useTus(item) ? tusUpload(item, opts) : formUpload(item, opts)),
  async ensureDir(path) {
    const i = path.lastIndexOf('/');
    const parentDir = i <= 0 ? '/' : path.slice(0, i);
    try {
      await ok(client.POST('/api/create_folder', { body: { path: parentDir, folder_name: path.slice(i + 1) } }));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'already_exists') return;
      throw e instanceof ApiError ? new UploadFailure(e.status, e.code, `Folder ${path}: ${e.message}`) : e;
    }
  },
};

/** Unfinished resumable uploads this browser remembers (to offer resuming after a reload). */
export function rememberedUploads(): { name: string; dir: string }[] {
  const out: { name: string; dir: string }[] = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i) ?? '';
      if (!key.startsWith('tus::nook-tus|')) continue;
      const [, who, dir, name] = key.slice('tus::'.length).split('|');
      if (dir && name && who === session.user?.username) out.push({ name, dir });
    }
  } catch {
    // storage disabled
  }
  return out;
}
