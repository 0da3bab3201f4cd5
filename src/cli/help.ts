// Help text in the seed README's (clap-like) layout: USAGE / ARGS / OPTIONS / COMMANDS, four-space
// indent, descriptions in one column. Installed with `configureHelp({ formatHelp })`; subcommands inherit it.
import type { Argument, Command, Help, Option } from 'commander';

const INDENT = '    ';
/** The seed's description column: 4 + 29 = column 33. */
const MIN_TERM_WIDTH = 29;

function usageLines(cmd: Command, helper: Help): string[] {
  const hasCommands = helper.visibleCommands(cmd).length > 0;
  if (!cmd.parent) {
    const lines = [`${cmd.name()} [OPTIONS]`];
    if (hasCommands) lines.push(`${cmd.name()} <COMMAND> ...`);
    return lines;
  }
  return [helper.commandUsage(cmd).replace('[options]', '[OPTIONS]').replace('[command]', '<COMMAND>')];
}

/** Long-only options line up their `--` under the short options' `--`, as in the seed. */
function optionTerm(option: Option): string {
  return option.short ? option.flags : `${INDENT}${option.flags}`;
}

function argumentTerm(arg: Argument): string {
  const name = `${arg.name().toUpperCase()}${arg.variadic ? '...' : ''}`;
  return arg.required ? `<${name}>` : `[${name}]`;
}

/** Help first, version last — the seed's order — whatever order they were registered in. */
function orderOptions(options: readonly Option[]): Option[] {
  const version = options.filter((o) => o.long === '--version');
  return [...options.filter((o) => o.long !== '--version'), ...version];
}

export function formatHelp(cmd: Command, helper: Help): string {
  const args = helper.visibleArguments(cmd).map((a): [string, string] => [argumentTerm(a), helper.argumentDescription(a)]);
  const options = orderOptions(helper.visibleOptions(cmd)).map((o): [string, string] => [optionTerm(o), helper.optionDescription(o)]);
  const commands = helper.visibleCommands(cmd).map((c): [string, string] => [c.name(), helper.subcommandDescription(c)]);

  const width = Math.max(MIN_TERM_WIDTH, ...[...args, ...options, ...commands].map(([term]) => term.length + 2));
  const item = ([term, description]: [string, string]) =>
    `${INDENT}${term.padEnd(width)}${description.replace(/\n/g, `\n${' '.repeat(INDENT.length + width)}`)}`.trimEnd();
  const section = (title: string, items: [string, string][]) => (items.length > 0 ? [`${title}:`, ...items.map(item), ''] : []);

  const description = helper.commandDescription(cmd);
  return [
    ...(description ? [description, ''] : []),
    'USAGE:',
    ...usageLines(cmd, helper).map((l) => `${INDENT}${l}`),
    '',
    ...section('ARGS', args),
    ...section('OPTIONS', options),
    ...section('COMMANDS', commands),
  ].join('\n');
}
