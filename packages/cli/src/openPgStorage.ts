import { InvalidArgumentError } from 'commander'
import { PgStorage } from '@mailweave/storage-postgres'
import type { NodeStorage } from '@mailweave/server'

/** `serve --process …`: this process is one of several of its region sharing the database. */
export interface RegionProcess {
  /** The process's name within the region (`--process`). */
  process: string
  /** How long an account lease lasts without renewal (`--lease-ttl`). */
  leaseTtlMs: number
  /** The most accounts this process owns at once (`--max-accounts`); undefined: no cap. */
  maxAccounts?: number
}

/**
 * Opens `--store <url>` as the node's storage: a `postgres://` or `postgresql://` URL; anything
 * else is a usage error naming the accepted forms. Connection failures say which server (without
 * the password) could not be reached. With `region`, the storage runs in multi-process mode
 * (account leases instead of the region lock).
 */
export async function openPgStorage(url: string, region?: RegionProcess): Promise<NodeStorage> {
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new InvalidArgumentError(
      `--store must be 'files' or a postgres://user@host:port/database URL, got ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}`,
    )
  return PgStorage.open({
    url,
    log: (msg, fields) => console.error(JSON.stringify({ msg, ...fields })),
    ...(region === undefined ? {} : { process: region.process, leaseTtlMs: region.leaseTtlMs, maxAccounts: region.maxAccounts }),
  })
}
