/** A UID as IMAP sees it: a positive 32-bit integer. Branded so it cannot be mixed up with counts. */
export type Uid = number & { readonly __brand: 'Uid' }
/** A message's global id: 128 random bits as 32 lowercase hex characters. */
export type Guid = string & { readonly __brand: 'Guid' }
/** A replica's stable id (a node id or an edge replica id). */
export type NodeId = string & { readonly __brand: 'NodeId' }

/** Brands a number as a {@link Uid} (no check: callers own the range). */
export const asUid = (n: number): Uid => n as Uid
/** Brands a string as a {@link Guid}. */
export const asGuid = (s: string): Guid => s as Guid
/** Brands a string as a {@link NodeId}. */
export const asNodeId = (s: string): NodeId => s as NodeId
