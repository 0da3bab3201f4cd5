// Worker-thread entry of `npm run bench:comlink`: register tsx, the polyfill, then the bench's worker side.
import { register } from 'tsx/esm/api';
register();
await import('../src/polyfill.ts');
await import('./comlink-worker.ts');
