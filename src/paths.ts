// Where the program's files are, from wherever this module runs: src/ (TypeScript through tsx:
// tests, or no build yet) or dist/src/ (the build, scripts/build.js). Modules that start other
// modules by path (actors, worker threads) or read files outside src/ (schemas, the console,
// package.json) resolve them here, so one source serves both.

/** True when running the build (plain .js), false when running the TypeScript sources. */
export const COMPILED = import.meta.url.endsWith('.js');
/** The project's root directory, as a URL ending in a slash. */
export const ROOT_URL = new URL(COMPILED ? '../../' : '../', import.meta.url);
/** A file of src/ (given as e.g. 'actors/store/index.ts'), as the running form of the program has it. */
export function srcModule(path: string): URL {
  return new URL(COMPILED ? `dist/src/${path.replace(/\.ts$/, '.js')}` : `src/${path}`, ROOT_URL);
}
