import { checkMetaKey, type MetaStore } from '@mailweave/core'
import { asBuffer, ownBytes, type PgDatabase } from './PgDatabase.ts'

/** A {@link MetaStore} in PostgreSQL (table `mw_meta`): each put is one committed upsert. */
export class PgMetaStore implements MetaStore {
  constructor(private readonly db: PgDatabase) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    checkMetaKey(key)
    const r = await this.db.query<{ value: Uint8Array }>(`cannot read record ${key}`, 'SELECT value FROM mw_meta WHERE key = $1', [key])
    const row = r.rows[0]
    return row === undefined ? undefined : ownBytes(row.value)
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    checkMetaKey(key)
    await this.db.commit(
      `cannot write record ${key}`,
      'INSERT INTO mw_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, asBuffer(value)],
    )
  }

  async delete(key: string): Promise<void> {
    checkMetaKey(key)
    await this.db.commit(`cannot delete record ${key}`, 'DELETE FROM mw_meta WHERE key = $1', [key])
  }
}
