// Server-sent events over `fetch`: EventSource cannot send an Authorization header, so the
// stream is read with a ReadableStream reader and parsed here (the WHATWG event-stream format:
// `field: value` lines, events end at a blank line, `:` starts a comment such as a keep-alive).

import { authHeaders, errorFromResponse, isAbort, networkError, sessionExpired } from './api';

export interface SseEvent {
  /** `message` unless the server named it with `event:`. */
  event: string;
  /** The `data:` lines of the event joined with `\n`. */
  data: string;
  id?: string;
}

/** Incremental parser: feed it text as it arrives, get whole events back. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  /** Parse a chunk; returns the events it completed (a partial line waits for the next chunk). */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    // Lines end with \n, \r\n or \r; a trailing \r may be the first half of \r\n, so keep it.
    for (;;) {
      const m = /\r\n|\n|\r(?=[^\n])/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const ev: SseEvent = { event: this.event || 'message', data: this.data.join('\n') };
      if (this.id !== undefined) ev.id = this.id;
      this.data = [];
      this.event = '';
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return null;
  }
}

/**
 * Open `url` as an event stream with the session's credentials and call `onEvent` for each
 * event until `signal` aborts or the server ends the stream. Resolves when the stream ends;
 * rejects with an ApiError when the server refuses or the connection fails (not on abort).
 */
export async function readEventStream(url: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { Accept: 'text/event-stream', ...authHeaders() }, cache: 'no-store', signal });
  } catch (e) {
    if (isAbort(e)) return;
    throw networkError();
  }
  if (!res.ok) {
    if (res.status === 401 && authHeaders().Authorization) sessionExpired();
    throw await errorFromResponse(res);
  }
  if (!res.body) throw networkError();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const ev of parser.push(value)) onEvent(ev);
    }
  } catch (e) {
    if (isAbort(e) || signal.aborted) return;
    throw networkError();
  } finally {
    reader.releaseLock();
  }
}
