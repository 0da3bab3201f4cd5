// The CLI's failure kind: a subcommand that could not do its job for a reason the user can act
// on. `reportCliError` prints it as `Error: <message>` and exits 1 (usage errors exit 2).

export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
  readonly exitCode = 1;
}
