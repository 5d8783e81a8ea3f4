import { no } from '../ImapError.ts'
import type { LoginCommand } from '../wire/Command.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * LOGIN (RFC 3501 6.2.3). Refused (`NO [PRIVACYREQUIRED]`, LOGINDISABLED advertised) on a
 * connection that is neither TLS nor loopback unless `allowPlaintextAuth` is set.
 */
export const login: CommandSpec<LoginCommand> = {
  states: ['notAuthenticated'],
  async run(session, cmd) {
    if (!session.plaintextAuthAllowed) throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED')
    const account = await session.settings.backend.authenticate(cmd.username, cmd.password)
    if (account === undefined) {
      await session.authFailed()
      throw no('Invalid credentials', 'AUTHENTICATIONFAILED')
    }
    session.loggedIn(account)
    return { text: 'Logged in', code: { code: 'CAPABILITY', capabilities: session.capabilities() } }
  },
}
