// Scaling for the hand-drawn SVG charts of the resources page: time on x, value on y, in a
// viewBox of `width` × `height` (y grows downwards). Pure functions, tested in chart.test.ts.

export interface Sample {
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
}

/** One line of a chart. */
export interface Series {
  label: string;
  /** A CSS colour, e.g. `var(--accent)`. */
  color: string;
  samples: Sample[];
}

export interface Frame {
  /** Time at the left and right edges (ms). */
  t0: number;
  t1: number;
  /** Value at the bottom and top edges. */
  min: number;
  max: number;
  width: number;
  height: number;
}

/** The smallest "nice" number (1, 2, 2.5, 5 × 10^k) at or above `v`; 1 for nothing. */
export function niceCeil(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) {
    const n = m * base;
    if (n >= v * (1 - 1e-12)) return n;
  }
  return 10 * base;
}

/** A nice top for byte quantities: nice in the binary unit the value falls in (KiB, MiB…). */
export function niceBytesCeil(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1024;
  let unit = 1;
  while (v >= unit * 1024) unit *= 1024;
  const n = niceCeil(v / unit);
  return n * unit;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** x and y of one sample inside the frame (values clamped to it). */
export function project(s: Sample, f: Frame): [number, number] {
  const span = f.t1 - f.t0 || 1;
  const range = f.max - f.min || 1;
  const x = ((s.t - f.t0) / span) * f.width;
  const v = Math.min(f.max, Math.max(f.min, s.v));
  const y = f.height - ((v - f.min) / range) * f.height;
  return [round(x), round(y)];
}

/**
 * Split samples into runs without holes: a gap longer than `maxGap` ms (the server was
 * down, the page slept) breaks the line instead of drawing a misleading slope across it.
 */
export function runs(samples: readonly Sample[], maxGap: number): Sample[][] {
  const out: Sample[][] = [];
  let cur: Sample[] = [];
  let prev: Sample | undefined;
  for (const s of samples) {
    if (!Number.isFinite(s.v) || !Number.isFinite(s.t)) continue;
    if (prev && s.t - prev.t > maxGap) {
      out.push(cur);
      cur = [];
    }
    cur.push(s);
    prev = s;
  }
  if (cur.length) out.push(cur);
  return out.filter((r) => r.length > 0);
}

/** SVG path data of a line through the samples (`M x y L x y …`, one subpath per run). */
export function linePath(samples: readonly Sample[], f: Frame, maxGap = Number.POSITIVE_INFINITY): string {
  return runs(samples, maxGap)
    .map((run) => run.map((s, i) => `${i === 0 ? 'M' : 'L'}${project(s, f).join(' ')}`).join(' '))
    .join(' ');
}

/** SVG path data of the area under the line, closed down to the bottom edge per run. */
export function areaPath(samples: readonly Sample[], f: Frame, maxGap = Number.POSITIVE_INFINITY): string {
  return runs(samples, maxGap)
    .map((run) => {
      const first = run[0];
      const last = run[run.length - 1];
      if (!first || !last) return '';
      const [x0] = project(first, f);
      const [x1] = project(last, f);
      const line = run.map((s) => `L${project(s, f).join(' ')}`).join(' ');
      return `M${x0} ${f.height} ${line} L${x1} ${f.height} Z`;
    })
    .join(' ');
}

/** The top of the y axis for a series: fixed (percentages) or a nice value above the peak. */
export function yMax(values: readonly number[], fixed: number | undefined, bytes: boolean): number {
  if (fixed !== undefined) return fixed;
  const peak = values.reduce((m, v) => (Number.isFinite(v) && v > m ? v : m), 0);
  return bytes ? niceBytesCeil(peak) : niceCeil(peak);
}

/** Keep only samples within `windowMs` of the newest one (the chart shows the last hour). */
export function trimWindow<T extends { t: number }>(samples: T[], windowMs: number): T[] {
  const last = samples[samples.length - 1];
  if (!last) return samples;
  const from = last.t - windowMs;
  const i = samples.findIndex((s) => s.t >= from);
  return i <= 0 ? samples : samples.slice(i);
}

/**
 * How much time a chart spans: the data's own span, at least `min` (a fresh server has only
 * seconds of samples) and at most `max` (the last hour).
 */
export function spanOf(series: readonly Series[], min: number, max: number): { t0: number; t1: number } {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const s of series) {
    const a = s.samples[0];
    const b = s.samples[s.samples.length - 1];
    if (a && a.t < first) first = a.t;
    if (b && b.t > last) last = b.t;
  }
  if (!Number.isFinite(first)) return { t0: last - min, t1: last };
  const span = Math.min(max, Math.max(min, last - first));
  return { t0: last - span, t1: last };
}
