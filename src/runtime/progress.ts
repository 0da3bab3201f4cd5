// A one-line progress display for a terminal: `label 42%`, redrawn in place on stderr, erased
// when done. Nothing at all when stderr is not a TTY (logs, pipes, tests): the duration goes to
// the log instead.
export interface ProgressLine {
  /** Fraction done, in [0, 1]. */
  update(fraction: number): void;
  end(): void;
}

export function progressLine(label: string, out: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!out.isTTY) return { update() {}, end() {} };
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
