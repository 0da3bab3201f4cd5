// Scoring the rule interpreter on a set of phrasings: a JSON array of { text, intent, args? }.
// A phrasing is right when the intent matches and every argument the set names matches too.
// Used by the development-set test and by `npm run nl:eval -- FILE` for sets kept elsewhere.
import { readFileSync } from 'node:fs';
import { INTENT_NAMES, interpretByRules, type Intent } from '../../src/actors/orchestrator/language.ts';

export interface NlCase {
  text: string;
  intent: Intent;
  args?: Record<string, number | string>;
}

export interface NlScore {
  right: number;
  total: number;
  misses: string[];
}

/** Reads and checks a set, naming the file and the entry at fault. */
export function loadNlSet(file: string): NlCase[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read a JSON set of phrasings: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of { text, intent, args? }`);
  data.forEach((c: unknown, i) => {
    const e = c as Record<string, unknown> | null;
    const where = `${file}: entry ${i}`;
    if (typeof e !== 'object' || e === null) throw new Error(`${where} is not an object`);
    if (typeof e.text !== 'string' || e.text.trim() === '') throw new Error(`${where}: text must be a non-empty string`);
    if (!INTENT_NAMES.includes(e.intent as Intent)) throw new Error(`${where}: intent ${JSON.stringify(e.intent)} is not one of ${INTENT_NAMES.join(', ')}`);
    if (e.args !== undefined && (typeof e.args !== 'object' || e.args === null || Array.isArray(e.args))) throw new Error(`${where}: args must be an object`);
  });
  return data as NlCase[];
}

export function scoreNl(cases: readonly NlCase[]): NlScore {
  const misses: string[] = [];
  for (const c of cases) {
    const r = interpretByRules(c.text);
    const argsOk = Object.entries(c.args ?? {}).every(([k, v]) => (r.args as Record<string, unknown>)[k] === v);
    if (r.intent !== c.intent || !argsOk) {
      misses.push(`"${c.text}": expected ${c.intent}${c.args ? ` ${JSON.stringify(c.args)}` : ''}, got ${r.intent} ${JSON.stringify(r.args)}`);
    }
  }
  return { right: cases.length - misses.length, total: cases.length, misses };
}

export const percent = (s: NlScore) => (s.total ? (100 * s.right) / s.total : 0);
