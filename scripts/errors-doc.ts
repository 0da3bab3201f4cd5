// `npm run docs:errors`: writes docs/ERRORS.md from the error registry (src/errors/registry.ts).
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../src/errors/doc.ts';

const file = new URL('../docs/ERRORS.md', import.meta.url);
writeFileSync(file, renderErrorsDoc());
console.log(`wrote ${file.pathname}`);
