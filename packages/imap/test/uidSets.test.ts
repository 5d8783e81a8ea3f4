import { describe, expect, it } from 'vitest'
import { exposedSet } from '../src/uidSets.ts'

describe('exposedSet', () => {
  const view = (uidValidity: number, exposed: number[]) => ({
    uidValidity,
    seqOfUid: (u: number) => (exposed.includes(u) ? exposed.indexOf(u) + 1 : undefined),
  })
  it('keeps the given order, compressing runs', () => {
    expect(exposedSet(view(7, [1, 2, 3, 9]), [9, 1, 2, 3])?.toString()).toBe('9,1:3')
  })
  it('is undefined when a UID is missing, not exposed yet, or there is no UIDVALIDITY', () => {
    expect(exposedSet(view(7, [1, 2]), [1, undefined])).toBeUndefined()
    expect(exposedSet(view(7, [1, 2]), [1, 3])).toBeUndefined()
    expect(exposedSet(view(0, [1, 2]), [1, 2])).toBeUndefined()
  })
})
