// docs/ERRORS.md, rendered from the error registry: `npm run docs:errors` writes it, and
// test/unit/errors.test.ts fails when the committed file differs from what this renders.
import { ERRORS, type ErrorArea, type ErrorSpec } from './registry.ts';

const AREAS: Record<ErrorArea, string> = {
  runtime: 'Actor runtime',
  api: 'Node HTTP API',
  openai: 'OpenAI-compatible gateway (`/v1`)',
  jobs: 'Jobs: scheduling, inference, the job path',
  models: 'Model files and pulls',
  network: 'Network',
  orchestrator: 'Orchestration and consensus',
  store: 'Store',
  node: 'Node start',
  cli: 'Command line',
};

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderErrorsDoc(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/errors/registry.ts by `npm run docs:errors`; test/unit/errors.test.ts checks it. Do not edit by hand. -->',
    '',
    'Every error the node raises carries one of these codes, whichever actor (and thread) raised it:',
    'the code crosses the MessagePort with the error, and the HTTP status and the CLI exit status',
    'follow from it.',
    '',
    '- **Node HTTP API**: status as below, body `{ "code", "message", "retryable" }`.',
    '- **OpenAI-compatible gateway** (`/v1`): status as below, OpenAI\'s body',
    '  `{ "error": { "message", "type", "param", "code" } }`; `type` is `invalid_request_error` for a',
    '  4xx and `server_error` otherwise.',
    '- **CLI**: `Error: <message>` on stderr and the exit status below; a code without one reaching',
    '  the CLI is a bug and shows its stack. Usage errors exit 2.',
    '',
    '*Retryable*: asking again, later or of another node, may succeed; nothing about the request is wrong.',
  ];
  const byArea = new Map<ErrorArea, Array<[string, ErrorSpec]>>();
  for (const [code, spec] of Object.entries(ERRORS) as Array<[string, ErrorSpec]>) {
    byArea.set(spec.area, [...(byArea.get(spec.area) ?? []), [code, spec]]);
  }
  for (const [area, title] of Object.entries(AREAS) as Array<[ErrorArea, string]>) {
    const rows = byArea.get(area);
    if (!rows) continue;
    out.push('', `## ${title}`, '', '| Code | HTTP status | Retryable | CLI exit | Meaning |', '|---|---|---|---|---|');
    for (const [code, s] of rows) out.push(`| \`${code}\` | ${s.status} | ${s.retryable ? 'yes' : 'no'} | ${s.exit ?? '–'} | ${cell(s.meaning)} |`);
  }
  return `${out.join('\n')}\n`;
}
