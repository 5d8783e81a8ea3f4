import { bad, no } from '../ImapError.ts'
import type { AuthenticateCommand } from '../wire/Command.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { logIn } from './login.ts'

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * AUTHENTICATE PLAIN (RFC 3501 6.2.2, RFC 4616, SASL-IR RFC 4959): the initial response
 * comes with the command or after an empty `+` challenge; `*` cancels. Same transport rule
 * as LOGIN.
 */
export const authenticate: CommandSpec<AuthenticateCommand> = {
  states: ['notAuthenticated'],
  async run(session, cmd) {
    if (cmd.mechanism !== 'PLAIN') throw no(`Unsupported authentication mechanism ${cmd.mechanism}`, 'CANNOT')
    if (!session.plaintextAuthAllowed) throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED')
    let response = cmd.initialResponse
    if (response === undefined) {
      // PLAIN's server challenge is empty: "+ " and nothing else.
      await session.send(Buffer.from('+ \r\n', 'latin1'))
      const ev = await session.nextEvent()
      if (ev === undefined) return
      if (ev.kind !== 'command' || ev.frame.lines.length !== 1) throw bad('Expected a base64 SASL response line')
      const text = ev.frame.lines[0]!.toString('latin1').trim()
      if (text === '*') throw bad('Authentication cancelled')
      if (!BASE64.test(text)) throw bad('SASL response is not base64')
      response = new Uint8Array(Buffer.from(text, 'base64'))
    }
    let fields: string[]
    try {
      fields = utf8.decode(response).split('\0')
    } catch {
      throw bad('SASL PLAIN response is not UTF-8')
    }
    if (fields.length !== 3) throw bad('Malformed SASL PLAIN response')
    const [authzid, user, password] = fields as [string, string, string]
    if (authzid.length > 0 && authzid !== user) throw no('Acting as another user is not allowed', 'AUTHORIZATIONFAILED')
    return logIn(session, user, password)
  },
}
