import type { Command } from '../wire/Command.ts'
import { append } from './append.ts'
import { authenticate } from './authenticate.ts'
import { capability } from './capability.ts'
import { check } from './check.ts'
import { close } from './close.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { copy } from './copy.ts'
import { create } from './create.ts'
import { deleteMailbox } from './delete.ts'
import { enable } from './enable.ts'
import { expunge } from './expunge.ts'
import { fetch } from './fetch.ts'
import { id } from './id.ts'
import { idle } from './idle.ts'
import { list } from './list.ts'
import { login } from './login.ts'
import { logout } from './logout.ts'
import { lsub } from './lsub.ts'
import { namespace } from './namespace.ts'
import { noop } from './noop.ts'
import { rename } from './rename.ts'
import { search } from './search.ts'
import { select } from './select.ts'
import { starttls } from './starttls.ts'
import { status } from './status.ts'
import { store } from './store.ts'
import { subscribe } from './subscribe.ts'
import { unselect } from './unselect.ts'

/** Every command the parser can produce, by name, with its implementation. */
export const COMMANDS: { readonly [N in Command['name']]: CommandSpec<Extract<Command, { name: N }>> } = {
  CAPABILITY: capability,
  NOOP: noop,
  LOGOUT: logout,
  STARTTLS: starttls,
  AUTHENTICATE: authenticate,
  LOGIN: login,
  SELECT: select,
  EXAMINE: select,
  CREATE: create,
  DELETE: deleteMailbox,
  RENAME: rename,
  SUBSCRIBE: subscribe,
  UNSUBSCRIBE: subscribe,
  LIST: list,
  LSUB: lsub,
  STATUS: status,
  APPEND: append,
  CHECK: check,
  CLOSE: close,
  UNSELECT: unselect,
  EXPUNGE: expunge,
  SEARCH: search,
  FETCH: fetch,
  STORE: store,
  COPY: copy,
  MOVE: copy,
  IDLE: idle,
  NAMESPACE: namespace,
  ENABLE: enable,
  ID: id,
}
