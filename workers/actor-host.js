// Worker-thread entry for a threaded actor (ThreadHost): load the polyfill and the TypeScript
// loader first, as the main entry does, then run the actor exactly as an inline host would.
import { register } from 'tsx/esm/api';
register();
await import('../src/polyfill.ts');
const { runWorkerActor } = await import('../src/runtime/worker-main.ts');
await runWorkerActor();
