import { describe, expect, it } from 'vitest';
import { folderChain, headline, type FileLike, type Transport, type UploadItem, type UploadOptions, UploadFailure, UploadQueue } from './queue';

interface Call {
  item: UploadItem<FileLike>;
  opts: UploadOptions;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A transport whose uploads finish when the test says so. */
function fake() {
  const calls: Call[] = [];
  const dirs: string[] = [];
  const transport: Transport<FileLike> = {
    upload: (item, opts) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ item, opts, resolve, reject });
        opts.signal.addEventListener('abort', () => reject(new DOMException('Aborted', 'AbortError')));
      }),
    ensureDir: async (p) => {
      dirs.push(p);
    },
  };
  return { calls, dirs, transport };
}

const file = (name: string, size = 100): FileLike => ({ name, size });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('folderChain', () => {
  it('lists the folders a dropped tree needs, parents first', () => {
    expect(folderChain('/up', 'a/b')).toEqual(['/up/a', '/up/a/b']);
    expect(folderChain('/', 'a')).toEqual(['/a']);
    expect(folderChain('/x/', '')).toEqual([]);
  });
});

describe('headline', () => {
  it('counts the files done while the rest run: 3 of 4, not 1 of 4', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport, { concurrency: 3 });
    q.add(['a', 'b', 'c', 'd'].map((n) => ({ file: file(n), dir: '/d' })));
    await tick();
    expect(headline(q.totals())).toBe('Uploading: 0 of 4 files done');
    for (const c of f.calls.slice(0, 3)) c.resolve();
    await tick();
    await tick();
    expect(q.items.map((i) => i.state)).toEqual(['done', 'done', 'done', 'running']);
    expect(headline(q.totals())).toBe('Uploading: 3 of 4 files done');
    f.calls[3]?.reject(new UploadFailure(507, 'disk_full', 'Disk full'));
    await tick();
    expect(headline(q.totals())).toBe('Uploads: 3 done, 1 failed');
  });

  it('says one file, and counts failures while others still run', () => {
    const base = { loaded: 0, total: 0, speed: 0, eta: Infinity, running: 0, queued: 0, done: 0, failed: 0, conflicts: 0 };
    expect(headline({ ...base, running: 1 })).toBe('Uploading: 0 of 1 file done');
    expect(headline({ ...base, running: 1, failed: 1, done: 2 })).toBe('Uploading: 2 of 4 files done, 1 failed');
    expect(headline({ ...base, conflicts: 1, done: 1 })).toBe('Uploading: 1 of 2 files done');
    expect(headline({ ...base, done: 2 })).toBe('Uploads: 2 done');
  });
});

describe('UploadQueue', () => {
  it('runs at most `concurrency` uploads and starts the next when one ends', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport, { concurrency: 2 });
    q.add([file('a'), file('b'), file('c')].map((x) => ({ file: x, dir: '/d' })));
    await tick();
    expect(f.calls.map((c) => c.item.file.name)).toEqual(['a', 'b']);
    f.calls[0]?.resolve();
    await tick();
    await tick();
    expect(f.calls.map((c) => c.item.file.name)).toEqual(['a', 'b', 'c']);
    expect(q.items.map((i) => i.state)).toEqual(['done', 'running', 'running']);
  });

  it('picks tus for large files', () => {
    const q = new UploadQueue(fake().transport, { tusThreshold: 1000, concurrency: 0 });
    const [small, big] = q.add([
      { file: file('s', 999), dir: '/' },
      { file: file('b', 1000), dir: '/' },
    ]);
    expect([small?.method, big?.method]).toEqual(['form', 'tus']);
  });

  it('tracks progress, speed and time left', async () => {
    let now = 0;
    const f = fake();
    const q = new UploadQueue(f.transport, { now: () => now });
    q.add([{ file: file('a', 10_000), dir: '/' }]);
    await tick();
    const c = f.calls[0] as Call;
    c.opts.onProgress(0);
    now = 1000;
    c.opts.onProgress(2000);
    const t = q.totals();
    expect(t.loaded).toBe(2000);
    expect(t.total).toBe(10_000);
    expect(t.speed).toBe(2000);
    expect(t.eta).toBe(4);
    expect(t.running).toBe(1);
  });

  it('cancels a running upload (aborting the request) and retries it', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport);
    const [it1] = q.add([{ file: file('a'), dir: '/' }]);
    await tick();
    q.cancel(it1!.id);
    await tick();
    expect(f.calls[0]?.opts.signal.aborted).toBe(true);
    expect(q.get(it1!.id)?.state).toBe('cancelled');
    expect(q.totals().total).toBe(0);
    q.retry(it1!.id);
    await tick();
    expect(f.calls).toHaveLength(2);
    expect(q.get(it1!.id)?.state).toBe('running');
  });

  it('cancels queued uploads without starting them', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport, { concurrency: 1 });
    const [, second] = q.add([file('a'), file('b')].map((x) => ({ file: x, dir: '/' })));
    q.cancel(second!.id);
    f.calls[0]?.resolve();
    await tick();
    await tick();
    expect(f.calls).toHaveLength(1);
    expect(q.items.map((i) => i.state)).toEqual(['done', 'cancelled']);
  });

  it('marks failures with the server message and lets them be retried', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport);
    q.add([{ file: file('a'), dir: '/' }]);
    await tick();
    f.calls[0]?.reject(new UploadFailure(507, 'quota_exceeded', 'Quota exceeded'));
    await tick();
    expect(q.items[0]).toMatchObject({ state: 'error', error: 'Quota exceeded' });
    expect(q.totals().failed).toBe(1);
  });

  it('asks about existing files, then overwrites or skips; "for all" answers the rest', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport, { concurrency: 3 });
    const items = q.add([file('a'), file('b'), file('c')].map((x) => ({ file: x, dir: '/' })));
    await tick();
    const exists = () => new UploadFailure(409, 'already_exists', 'Already exists');
    f.calls[0]?.reject(exists());
    f.calls[1]?.reject(exists());
    await tick();
    expect(q.firstConflict()?.file.name).toBe('a');
    expect(q.totals().conflicts).toBe(2);

    q.resolve(items[0]!.id, 'overwrite');
    await tick();
    expect(f.calls[3]?.item.file.name).toBe('a');
    expect(f.calls[3]?.opts.overwrite).toBe(true);

    q.resolve(items[1]!.id, 'skip', true);
    expect(q.get(items[1]!.id)?.state).toBe('skipped');
    // c conflicts later: answered by the "for all" choice without asking.
    f.calls[2]?.reject(exists());
    await tick();
    expect(q.get(items[2]!.id)?.state).toBe('skipped');
    expect(q.firstConflict()).toBeUndefined();
  });

  it('creates the folders of a dropped tree once, before their files', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport);
    q.add(
      [
        { file: file('1'), dir: '/up/t', label: 't/1' },
        { file: file('2'), dir: '/up/t/sub', label: 't/sub/2' },
      ],
      ['/up/t', '/up/t/sub'],
    );
    await tick();
    await tick();
    expect(f.dirs).toEqual(['/up/t', '/up/t/sub']);
    expect(f.calls.map((c) => c.item.label)).toEqual(['t/1', 't/sub/2']);
  });

  it('clearFinished keeps what still needs attention', async () => {
    const f = fake();
    const q = new UploadQueue(f.transport);
    q.add([file('a'), file('b')].map((x) => ({ file: x, dir: '/' })));
    await tick();
    f.calls[0]?.resolve();
    f.calls[1]?.reject(new UploadFailure(500, 'internal', 'boom'));
    await tick();
    q.clearFinished();
    expect(q.items.map((i) => i.file.name)).toEqual(['b']);
  });
});
