import { no } from '../ImapError.ts'
import type { ImapSession } from '../ImapSession.ts'
import type { LoginCommand } from '../wire/Command.ts'
import type { CommandResult, CommandSpec } from './CommandSpec.ts'

/**
 * Checks `user` and `password` with the backend and logs the session in (LOGIN and
 * AUTHENTICATE PLAIN); wrong credentials are answered `NO [AUTHENTICATIONFAILED]` after the
 * session's failure delay (see `ImapSession.authFailed`).
 */
export async function logIn(session: ImapSession, user: string, password: string): Promise<CommandResult> {
  const account = await session.settings.backend.authenticate(user, password)
  if (account === undefined) {
    await session.authFailed()
    throw no('Invalid credentials', 'AUTHENTICATIONFAILED')
  }
  const route = (await session.settings.backend.route?.(account.user)) ?? { kind: 'local' }
  if (route.kind !== 'local') {
    account.close?.()
    if (route.kind === 'unavailable') throw no(`This account cannot be served now (${route.reason}); try again shortly`, 'UNAVAILABLE')
    return session.forwardTo(route, user, password)
  }
  session.loggedIn(account)
  return { text: 'Logged in', code: { code: 'CAPABILITY', capabilities: session.capabilities() } }
}

/**
 * LOGIN (RFC 3501 6.2.3). Refused (`NO [PRIVACYREQUIRED]`, LOGINDISABLED advertised) on a
 * connection that is neither TLS nor loopback unless `allowPlaintextAuth` is set.
 */
export const login: CommandSpec<LoginCommand> = {
  states: ['notAuthenticated'],
  async run(session, cmd) {
    if (!session.plaintextAuthAllowed) throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED')
    return logIn(session, cmd.username, cmd.password)
  },
}
