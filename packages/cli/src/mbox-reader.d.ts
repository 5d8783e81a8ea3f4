declare module 'mbox-reader' {
  /** Messages of an mbox stream (postalsys/mbox-reader). */
  export function mboxReader(
    stream: NodeJS.ReadableStream,
    options?: { gz?: boolean },
  ): AsyncGenerator<{
    returnPath: string
    time: Date | false
    content: Buffer
    flags: Set<string>
    labels: Set<string>
    headers: Map<string, string[]>
  }>
}
