const HEX = new TextEncoder().encode('0123456789abcdef')
const ascii = new TextDecoder('latin1')

/**
 * Lowercase hex of `bytes` as one flat string. (Concatenating per byte builds a rope of
 * dozens of heap objects per id, which costs about 1 KB for every stored message.)
 */
export function toHex(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    out[2 * i] = HEX[b >> 4]!
    out[2 * i + 1] = HEX[b & 15]!
  }
  return ascii.decode(out)
}
