const BLOB_KEY_RE = /^[0-9a-f]{64}$/

/**
 * Whether `key` has the shape of a blob key: the lowercase hex SHA-256 of the body, 64
 * digits. Every store, wire codec and cache checks keys with this one rule.
 */
export const isBlobKey = (key: string): boolean => BLOB_KEY_RE.test(key)
