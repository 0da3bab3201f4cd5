// Piscina worker entry of an inference:<model> actor's pool when the program runs from its
// TypeScript sources (no build): register tsx's loader, then the same entry the build uses.
import { register } from 'tsx/esm/api';
register();
const { default: runInferenceTask } = await import('../src/actors/inference/worker-entry.ts');
export default runInferenceTask;
