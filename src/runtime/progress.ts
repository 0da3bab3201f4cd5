// A one-line progress display for a terminal: `label 42%`, redrawn in place on stderr, erased
// when done. Nothing at all when stderr is not a TTY (logs, pipes, tests): the duration goes to
// the log instead. A worker thread's stderr is a pipe to the main thread's, never a TTY itself:
// it draws when the main thread's stderr is one (told by the thread host, STDERR_TTY).
import { getEnvironmentData, isMainThread } from 'node:worker_threads';

/** Environment data key: whether the main thread's stderr is a terminal. */
export const STDERR_TTY = 'mvp-node:stderr-tty';

export interface ProgressLine {
  /** Fraction done, in [0, 1]. */
  update(fraction: number): void;
  end(): void;
}

export function progressLine(label: string, out: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = out.isTTY || (!isMainThread && out === process.stderr && getEnvironmentData(STDERR_TTY) === true);
  if (!tty) return { update() {}, end() {} };
  let shown = -1;
  return {
    update(fraction) {
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      if (pct === shown) return;
      shown = pct;
      out.write(`\r${label} ${pct}%`);
    },
    end() {
      if (shown >= 0) out.write(`\r${' '.repeat(label.length + 5)}\r`);
    },
  };
}
