// A sentence as the rule interpreter reads it: wink-nlp's English model tokenises it, expands
// contractions ("what's" → "what is"), turns British spellings into one form ("neighbours" →
// "neighbors") and gives each word its lemma ("nodes" → "node", "connected" → "connect",
// "bigger" → "big"), so one rule covers every form of a word.
import { createRequire } from 'node:module';
import type winkFn from 'wink-nlp';
import type { ItsFunction, Model, WinkMethods } from 'wink-nlp';

export interface Reading {
  /** The words' lemmas, lower case, separated by single spaces (punctuation kept as tokens). */
  lemmas: string;
  /** The words as written but normalised (lower case, contractions expanded, one spelling). */
  normal: string;
}

let nlp: WinkMethods | undefined;

/** Chat shorthand the English model does not know, spelled out. */
const CHAT: Record<string, string> = { u: 'you', r: 'are', ur: 'your', pls: 'please', plz: 'please', thx: 'thanks', msgs: 'messages', cfg: 'configuration' };
const CHAT_WORDS = new RegExp(`\\b(?:${Object.keys(CHAT).join('|')})\\b`, 'gi');

/** The model loads on first use (about 0.15 s), so commands that never interpret pay nothing. */
function engine(): WinkMethods {
  if (!nlp) {
    const require = createRequire(import.meta.url);
    const winkNLP = require('wink-nlp') as typeof winkFn;
    // The POS tagger is what makes lemmas right ("does" → "do", "left" → "leave" only as a verb).
    nlp = winkNLP(require('wink-eng-lite-web-model') as Model, ['pos']);
  }
  return nlp;
}

export function readSentence(text: string): Reading {
  const w = engine();
  // Typographic quotes, chat shorthand and thousands separators ("1,000") are evened out first.
  const cleaned = text.replace(/[’‘`]/g, "'").replace(/[“”]/g, '"').replace(CHAT_WORDS, (w) => CHAT[w.toLowerCase()] ?? w)
    .replace(/(\d),(?=\d{3}\b)/g, '$1');
  const tokens = w.readDoc(cleaned).tokens();
  const words = (xs: string[]) => xs.map((x) => x.toLowerCase()).join(' ').replace(/\s+/g, ' ').trim();
  // wink-nlp's typings declare `its.lemma` with an extra argument its `out` never passes.
  const lemma = w.its.lemma as unknown as ItsFunction<string>;
  return { lemmas: words(tokens.out(lemma) as string[]), normal: words(tokens.out(w.its.normal) as string[]) };
}
