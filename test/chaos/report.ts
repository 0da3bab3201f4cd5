// Each chaos scenario records its numbers here: one JSON line per row in $CHAOS_REPORT (set by
// `npm run chaos`, which prints them as a table at the end), else on stderr.
import { appendFileSync } from 'node:fs';

export type Row = Record<string, string | number | boolean | null>;

export function record(scenario: string, row: Row): void {
  const line = JSON.stringify({ scenario, ...row });
  if (process.env.CHAOS_REPORT) appendFileSync(process.env.CHAOS_REPORT, `${line}\n`);
  else process.stderr.write(`chaos: ${line}\n`);
}

/** Seconds, one decimal, from two performance.now() readings. */
export const secs = (from: number, to: number) => Math.round((to - from) / 100) / 10;
