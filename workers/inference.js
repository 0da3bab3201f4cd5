// Piscina worker entry of an inference:<model> actor's pool: register the TypeScript loader
// and the polyfill first (as workers/actor-host.js does), then hand piscina the task handler.
import { register } from 'tsx/esm/api';
register();
await import('../src/polyfill.ts');
const { default: runInferenceTask } = await import('../src/actors/inference/worker.ts');
export default runInferenceTask;
