/** A tiny listener set: a throwing listener does not stop the others (its error is rethrown asynchronously). */
export class Listeners<T> {
  private readonly fns = new Set<(v: T) => void>()

  /** Adds `fn`; returns the function that removes it. */
  add(fn: (v: T) => void): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }

  /** Calls every listener with `v`. */
  emit(v: T): void {
    for (const fn of [...this.fns]) {
      try {
        fn(v)
      } catch (e) {
        queueMicrotask(() => {
          throw e
        })
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.fns.clear()
  }
}
