// Entry point of `mvp-node`: bin/mvp-node.js imports this module (after the polyfill and tsx)
// and importing it runs the CLI. Tests import buildProgram from ./program.ts instead.
import { buildProgram, reportCliError } from './program.ts';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportCliError(err);
}
