// Worker-thread entry of a threaded actor (ThreadHost): the polyfill first (libp2p needs it),
// then the actor, run exactly as an inline host would. Built, this runs as plain JS; from the
// TypeScript sources, workers/actor-host.js registers tsx and imports this file.
await import('../polyfill.ts');
const { runWorkerActor } = await import('./worker-main.ts');
await runWorkerActor();
export {};
