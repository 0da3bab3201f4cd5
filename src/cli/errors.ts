// The CLI's failure kind: a subcommand that could not do its job for a reason the user can act
// on. `reportCliError` prints it as `Error: <message>` and exits 1 (usage errors exit 2), as it
// does any error whose registry code has an exit status (errors/registry.ts).
import { CodedError } from '../errors/registry.ts';

export class CommandFailedError extends CodedError {
  override readonly name = 'CommandFailedError';
  constructor(message: string, options?: ErrorOptions) { super('command_failed', message, options); }
}
