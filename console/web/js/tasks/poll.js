// Polling that never overlaps itself and stops for good when asked: `fn` runs, and `ms`
// after it settles it runs again. A rejection of `fn` is handed to `onError` (never left
// unhandled) and polling goes on.

/** Starts polling; returns `{ stop, now }` (`now()` runs `fn` at once, then the cadence resumes). */
export function poll(fn, ms, onError = () => {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false;
  async function tick() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = true;
    try {
      await fn();
    } catch (e) {
      if (!stopped) onError(e);
    }
    running = false;
    if (stopped) return;
    if (again) {
      again = false;
      tick();
    } else {
      timer = setTimeout(tick, typeof ms === 'function' ? ms() : ms);
    }
  }
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    now: tick,
  };
}
