// Piscina worker entry of an inference:<model> actor's pool: the polyfill first, then the task
// handler. Built, this runs as plain JS; from the TypeScript sources, workers/inference.js
// registers tsx and imports this file.
await import('../../polyfill.ts');
const { default: runInferenceTask } = await import('./worker.ts');
export default runInferenceTask;
