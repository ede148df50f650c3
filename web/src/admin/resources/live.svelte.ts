// The resources page's data: the last hour from `/api/resources/history`, then each new sample
// from `/api/resources/stream` (server-sent events read with fetch, so the token goes in the
// Authorization header). Reconnects after a dropped stream; `stop()` ends it for good.

import { client, messageOf, ok, type Schemas } from '../../lib/api';
import { readEventStream } from '../../lib/sse';
import { trimWindow } from './chart';

export type Snapshot = Schemas['Snapshot'];

/** One point of every chart, time in ms. */
export interface Point {
  t: number;
  cpu: number;
  memory: number;
  disk: number;
  rx: number;
  tx: number;
  rss: number;
}

export const WINDOW_MS = 60 * 60 * 1000;

export function pointOfHistory(p: Schemas['HistoryPoint']): Point {
  return {
    t: Date.parse(p.time),
    cpu: p.cpu,
    memory: p.memory,
    disk: p.disk,
    rx: p.rx_bytes_per_sec,
    tx: p.tx_bytes_per_sec,
    rss: p.process_rss,
  };
}

export function pointOfSnapshot(s: Snapshot): Point {
  return {
    t: Date.parse(s.sampled_at),
    cpu: s.cpu,
    memory: s.memory,
    disk: s.disk,
    rx: s.network.rx_bytes_per_sec,
    tx: s.network.tx_bytes_per_sec,
    rss: s.process_rss,
  };
}

/** Add a point in time order, replacing one with the same time (the stream repeats the last). */
export function addPoint(points: Point[], p: Point): Point[] {
  if (!Number.isFinite(p.t)) return points;
  const last = points[points.length - 1];
  if (last && p.t < last.t) return points;
  const next = last && last.t === p.t ? [...points.slice(0, -1), p] : [...points, p];
  return trimWindow(next, WINDOW_MS);
}

export class Live {
  points = $state<Point[]>([]);
  current = $state<Snapshot | null>(null);
  intervalMs = $state(2000);
  status = $state<'connecting' | 'live' | 'retrying'>('connecting');
  error = $state('');
  updates = $state(0);
  #ctrl = new AbortController();

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#ctrl.abort();
  }

  async #run(): Promise<void> {
    const signal = this.#ctrl.signal;
    try {
      const h = await ok(client.GET('/api/resources/history', { signal }));
      this.intervalMs = h.interval_seconds * 1000;
      let pts: Point[] = [];
      for (const p of h.points) pts = addPoint(pts, pointOfHistory(p));
      this.points = pts;
    } catch (e) {
      if (signal.aborted) return;
      this.error = messageOf(e, 'Could not load the last hour.');
    }
    let delay = 1000;
    while (!signal.aborted) {
      try {
        await readEventStream(
          '/api/resources/stream',
          (ev) => {
            let snap: Snapshot;
            try {
              snap = JSON.parse(ev.data) as Snapshot;
            } catch {
              return;
            }
            this.current = snap;
            this.points = addPoint(this.points, pointOfSnapshot(snap));
            this.status = 'live';
            this.error = '';
            this.updates++;
            delay = 1000;
          },
          signal,
        );
      } catch (e) {
        if (signal.aborted) return;
        this.error = messageOf(e, 'The live feed stopped.');
        // A refusal will not heal by retrying (e.g. the role lost the endpoint).
        if (e instanceof Error && 'status' in e && (e.status === 403 || e.status === 401)) return;
      }
      if (signal.aborted) return;
      this.status = 'retrying';
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
}
