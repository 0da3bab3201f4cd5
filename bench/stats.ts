// Small figures shared by the benchmarks that compare the job path with raw node-llama-cpp.

/** The median of the finite values (the mean of the middle two for an even count); NaN when none. */
export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const r1 = (x: number): number => Math.round(x * 10) / 10;
export const r2 = (x: number): number => Math.round(x * 100) / 100;
/** Tokens per second; NaN for no time. */
export const rate = (tokens: number, ms: number): number => (ms > 0 ? (tokens * 1000) / ms : NaN);
