import { ApiError, NodeApi, type ApiMailboxEntry, type ApiMailboxListing, type FetchLike } from '@mailweave/client'
import { EdgeError } from './EdgeError.ts'

/** Maps the HTTP client's errors onto this package's boundary type (same codes, same status). */
async function edge<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    throw e instanceof ApiError ? new EdgeError(e.code, e.message, e.status) : e
  }
}

/**
 * Exchanges a user's password for a bearer token at a node (`POST /api/token`, HTTP Basic).
 * The token is valid at every node of the cluster. Throws UNAUTHORIZED on a wrong password,
 * OFFLINE when the node cannot be reached.
 */
export function requestToken(nodeUrl: string, user: string, password: string, fetchFn?: FetchLike): Promise<string> {
  return edge(new NodeApi(nodeUrl, { user, password }, fetchFn).token())
}

/** The few HTTP API calls an edge replica makes (through `@mailweave/client`), throwing {@link EdgeError}. */
export class NodeClient {
  private readonly api: NodeApi

  constructor(nodeUrl: string, token: string, fetchFn?: FetchLike) {
    this.api = new NodeApi(nodeUrl, { token }, fetchFn)
  }

  /** The raw message `guid` of mailbox `name`, or undefined when the node has no body for it (yet). */
  raw(mailboxName: string, guid: string): Promise<Uint8Array | undefined> {
    return edge(this.api.raw(mailboxName, guid))
  }

  /** Uploads a body (the node verifies the hash). */
  putBlob(hash: string, bytes: Uint8Array): Promise<void> {
    return edge(this.api.putBlob(hash, bytes))
  }

  /** Reads mailbox `name` as a client would: an exposure at the node, which first binds every stranded message. */
  readMailbox(name: string): Promise<ApiMailboxListing> {
    return edge(this.api.readMailbox(name))
  }

  /** Creates a mailbox (online only: mailbox ids are chosen by nodes). */
  createMailbox(name: string): Promise<ApiMailboxEntry> {
    return edge(this.api.createMailbox(name))
  }
}
