import { NodeError } from './NodeError.ts'

/** The error a node start fails with when one of its listeners cannot bind `addr`. */
export function listenError(what: string, addr: { host: string; port: number }, cause: unknown): NodeError {
  const code = (cause as { code?: unknown } | undefined)?.code
  const why =
    code === 'EADDRINUSE'
      ? 'the address is already in use'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL'
          ? 'no such local address'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'the host name does not resolve'
            : cause instanceof Error
              ? cause.message
              : String(cause)
  return new NodeError(
    'UNAVAILABLE',
    `${what} cannot listen on ${addr.host}:${addr.port}: ${why}${typeof code === 'string' ? ` (${code})` : ''}`,
  )
}
