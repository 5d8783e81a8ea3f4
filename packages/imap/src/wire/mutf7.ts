// Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3).

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,'
const B64_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i

const isPrintable = (c: number): boolean => c >= 0x20 && c <= 0x7e

/**
 * Encodes a Unicode mailbox name as modified UTF-7: printable ASCII stays as is, `&` becomes
 * `&-`, every other run of UTF-16 code units becomes `&<modified base64>-`. The output is
 * printable ASCII only and `decodeMutf7(encodeMutf7(s)) === s` for every well-formed string.
 */
export function encodeMutf7(name: string): string {
  let out = ''
  let i = 0
  while (i < name.length) {
    const c = name.charCodeAt(i)
    if (isPrintable(c)) {
      out += c === 0x26 ? '&-' : name[i]
      i++
      continue
    }
    let j = i
    while (j < name.length && !isPrintable(name.charCodeAt(j))) j++
    let bits = 0
    let nbits = 0
    out += '&'
    for (let k = i; k < j; k++) {
      bits = (bits << 16) | name.charCodeAt(k)
      nbits += 16
      while (nbits >= 6) {
        nbits -= 6
        out += B64[(bits >> nbits) & 0x3f]
      }
      bits &= (1 << nbits) - 1
    }
    if (nbits > 0) out += B64[(bits << (6 - nbits)) & 0x3f]
    out += '-'
    i = j
  }
  return out
}

/**
 * Decodes a modified UTF-7 mailbox name. Strict: returns `undefined` for characters outside
 * printable ASCII, an unterminated or malformed `&...-` run, non-zero padding bits, lone
 * surrogates, or printable ASCII that was needlessly base64-encoded.
 */
export function decodeMutf7(text: string): string | undefined {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (!isPrintable(c)) return undefined
    if (c !== 0x26) {
      out += text[i]
      i++
      continue
    }
    const end = text.indexOf('-', i + 1)
    if (end < 0) return undefined
    if (end === i + 1) {
      out += '&'
      i = end + 1
      continue
    }
    const units: number[] = []
    let bits = 0
    let nbits = 0
    let byteHigh = -1
    for (let k = i + 1; k < end; k++) {
      const v = B64_VALUE[text.charCodeAt(k)] ?? -1
      if (v < 0) return undefined
      bits = (bits << 6) | v
      nbits += 6
      if (nbits >= 8) {
        nbits -= 8
        const byte = (bits >> nbits) & 0xff
        bits &= (1 << nbits) - 1
        if (byteHigh < 0) byteHigh = byte
        else {
          units.push((byteHigh << 8) | byte)
          byteHigh = -1
        }
      }
    }
    // Leftover must be pure zero padding (< 6 bits) ending on a whole UTF-16 unit.
    if (nbits >= 6 || bits !== 0 || byteHigh >= 0 || units.length === 0) return undefined
    for (let k = 0; k < units.length; k++) {
      const u = units[k] ?? 0
      if (isPrintable(u)) return undefined
      if (u >= 0xd800 && u <= 0xdbff) {
        const low = units[k + 1] ?? 0
        if (low < 0xdc00 || low > 0xdfff) return undefined
        out += String.fromCharCode(u, low)
        k++
      } else if (u >= 0xdc00 && u <= 0xdfff) return undefined
      else out += String.fromCharCode(u)
    }
    i = end + 1
  }
  return out
}
