import { InvalidArgumentError } from 'commander'
import { PgStorage } from '@mailweave/storage-postgres'
import type { NodeStorage } from '@mailweave/server'

/**
 * Opens `--store <url>` as the node's storage: a `postgres://` or `postgresql://` URL; anything
 * else is a usage error naming the accepted forms. Connection failures say which server (without
 * the password) could not be reached.
 */
export async function openPgStorage(url: string): Promise<NodeStorage> {
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new InvalidArgumentError(
      `--store must be 'files' or a postgres://user@host:port/database URL, got ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}`,
    )
  return PgStorage.open({ url, log: (msg, fields) => console.error(JSON.stringify({ msg, ...fields })) })
}
