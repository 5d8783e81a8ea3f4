import type { TourStep } from './TourRecord.ts'

/** Prints timestamped step lines as the tour runs (unless quiet) and keeps them for the report. */
export class TourLog {
  readonly steps: TourStep[] = []
  readonly lines: string[] = []
  private readonly t0 = performance.now()

  constructor(private readonly quiet: boolean) {}

  get elapsed(): number {
    return performance.now() - this.t0
  }

  /** Starts a new step and prints `[+ 1.2s] step n  title`. */
  step(phase: TourStep['phase'], short: string, title: string): TourStep {
    const s: TourStep = { n: this.steps.length + 1, at: this.elapsed, phase, short, title, notes: [] }
    this.steps.push(s)
    this.print(`[${stamp(s.at)}] step ${String(s.n).padStart(2)}  ${title}`)
    return s
  }

  /** An indented detail line under the current step. */
  note(line: string): void {
    this.steps.at(-1)?.notes.push(line)
    this.print(`               ${line}`)
  }

  print(line: string): void {
    this.lines.push(line)
    if (!this.quiet) console.log(line)
  }
}

/** `+ 12.3s`: seconds since the start, fixed width. */
export const stamp = (ms: number): string => `+${(ms / 1000).toFixed(1).padStart(5)}s`
