/** @module sync/idle: how a background loop waits: until woken, the poll interval passes, or it is stopped. */

/**
 * Resolve after `pollMs`, on `abort`, or when the returned promise's wake function is called
 * (`onWake` receives it, so the loop can hand it to whatever signals new work).
 */
export function waitForWork(pollMs: number, signal: AbortSignal, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, pollMs)
    signal.addEventListener('abort', done, { once: true })
    onWake(done)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
