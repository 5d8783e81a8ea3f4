import { createServer } from 'node:net'

/** Binds `port` on 127.0.0.1 for a moment; resolves with the bound port, or undefined when it is taken. */
async function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(undefined))
    s.listen(port, '127.0.0.1', () => {
      const bound = (s.address() as { port: number }).port
      s.close(() => resolve(bound))
    })
  })
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound, then released): `preferred`
 * when it is given (not 0) and free, else any free port.
 */
export async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined && preferred > 0) {
    const port = await tryBind(preferred)
    if (port !== undefined) return port
  }
  const port = await tryBind(0)
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1')
  return port
}
