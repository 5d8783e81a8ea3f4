/** Thrown by {@link waitFor} when the deadline passes with the condition still false. */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout'
}

/**
 * Resolves as soon as `condition` returns true (checked at once, then every
 * `intervalMs`); rejects with {@link WaitTimeout} naming `what` once `timeoutMs` passed
 * without it. A condition that throws rejects at once with that error. For tests:
 * wait on a state, never on a fixed sleep.
 */
export const waitFor = async (
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
  intervalMs = 5,
): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    const left = deadline - performance.now()
    if (left <= 0) throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)))
  }
}
