// fast-check as every property test uses it: import `fc` from here, not from 'fast-check'.
// A failing property throws fast-check's report (counterexample, seed, path) followed by the
// line that replays it, e.g.
//   Replay: FC_SEED=-1829376410 FC_PATH="3:1:0" node scripts/test.js test/unit/x.test.ts
// FC_SEED alone reruns the same generated cases (and shrinks again); with FC_PATH it jumps
// straight to the shrunk counterexample. Both apply to every property of the process, so
// replay one file; FC_PATH belongs to the property that printed it.
import fc from 'fast-check';

function seedFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < -(2 ** 31) || seed >= 2 ** 32) {
    throw new Error(`FC_SEED = ${JSON.stringify(raw)}: must be the integer a failing property printed`);
  }
  return seed;
}

const seed = seedFromEnv(process.env.FC_SEED);
const path = process.env.FC_PATH?.trim() || undefined;
const testFile = process.argv.find((a) => a.endsWith('.test.ts'));

/** The shell line that replays a failed run. */
export function replayLine(details: { seed: number; counterexamplePath: string | null }): string {
  const where = details.counterexamplePath ? ` FC_PATH="${details.counterexamplePath}"` : '';
  return `Replay: FC_SEED=${details.seed}${where} node scripts/test.js ${testFile ?? '<test file>'}`;
}

fc.configureGlobal({
  ...(seed !== undefined ? { seed } : {}),
  ...(path !== undefined ? { path } : {}),
  reporter(details) {
    if (!details.failed) return;
    throw new Error(`${fc.defaultReportMessage(details)}\n${replayLine(details)}`, { cause: details.errorInstance });
  },
});

export default fc;
