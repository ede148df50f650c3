// Run `task` now and then every `ms` while the page is visible (a hidden tab costs the server
// nothing); a run never overlaps the previous one. Returns a stop function for onMount.

export function pollWhileVisible(task: () => Promise<void>, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let running = false;

  const schedule = () => {
    if (stopped || document.visibilityState !== 'visible') return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, ms);
  };

  async function tick() {
    timer = null;
    if (stopped || running) return;
    running = true;
    try {
      await task();
    } catch {
      // The task shows its own errors; keep polling.
    } finally {
      running = false;
      schedule();
    }
  }

  const onVisibility = () => {
    if (document.visibilityState === 'visible') void tick();
    else if (timer) {
      clearTimeout(timer);
      timer = null;
    }
  };

  document.addEventListener('visibilitychange', onVisibility);
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
