// `npm run nl:eval -- FILE...`: scores the rule interpreter of `orchestrator ask` on sets of
// phrasings (JSON arrays of { text, intent, args? }) and prints right/total and every miss.
import { loadNlSet, percent, scoreNl } from '../test/helpers/nl-score.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: npm run nl:eval -- FILE.json [FILE.json...]\n');
  process.exit(2);
}
for (const file of files) {
  let cases;
  try {
    cases = loadNlSet(file);
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const s = scoreNl(cases);
  for (const m of s.misses) process.stdout.write(`miss: ${m}\n`);
  process.stdout.write(`${file}: ${s.right}/${s.total} = ${percent(s).toFixed(1)} %\n`);
}
