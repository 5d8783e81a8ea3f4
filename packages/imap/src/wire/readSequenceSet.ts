import { SequenceSet } from './SequenceSet.ts'
import type { WireCursor } from './WireCursor.ts'

const isSeqChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x3a || c === 0x2c

/** Reads a `sequence-set` at the cursor or fails with a readable reason. */
export function readSequenceSet(c: WireCursor): SequenceSet {
  if (c.peek() === 0x24) c.fail('SEARCHRES ($) is not supported')
  const text = c.take(isSeqChar, 'a sequence set')
  const set = SequenceSet.parse(text)
  if (set === undefined) c.fail(`Invalid sequence set "${text}"`)
  return set
}
