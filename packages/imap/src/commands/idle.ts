import { bad } from '../ImapError.ts'
import type { SimpleCommand } from '../wire/Command.ts'
import { isIdleDone } from '../wire/CommandReader.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * IDLE (RFC 2177): after `+ idling`, every change to the selected mailbox is sent as it
 * happens (EXPUNGE included) until the client sends DONE.
 */
export const idle: CommandSpec<SimpleCommand> = {
  states: AUTHENTICATED,
  async run(session) {
    await session.continuation('idling')
    const frame = session.nextEvent()
    for (;;) {
      const tracker = session.selected?.tracker
      if (tracker?.dirty) {
        await session.notify(true)
        continue
      }
      const activity = new Promise<'activity'>((resolve) => {
        if (tracker !== undefined) tracker.onActivity = () => resolve('activity')
      })
      const next = await Promise.race([frame, activity])
      if (tracker !== undefined) tracker.onActivity = undefined
      if (next === 'activity') continue
      if (next === undefined) return
      if (next.kind === 'command' && isIdleDone(next.frame)) return { text: 'IDLE terminated' }
      if (next.kind === 'needContinuation') session.refuseLiteral()
      throw bad('Expected DONE to end IDLE')
    }
  },
}
