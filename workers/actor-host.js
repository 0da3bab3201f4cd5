// Worker-thread entry of a threaded actor when the program runs from its TypeScript sources (no
// build): register tsx's loader, then run the same entry the build uses.
import { register } from 'tsx/esm/api';
register();
await import('../src/runtime/worker-entry.ts');
