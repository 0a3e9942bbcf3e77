/**
 * The command line, read: which command with which options, or help or the version to print.
 * Every mistake is a UsageError that names the command, so its message can point at its help.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { EXIT } from './exit-codes.ts';
import { COMMAND_HELP, packageVersion, USAGE } from './help.ts';

export class UsageError extends Error {
  /** The command it is about (`users list`), for the pointer to its help. */
  readonly words: string;
  constructor(message: string, words = '') {
    super(message);
    this.name = 'UsageError';
    this.words = words;
  }
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What the parser needs to know of a command. */
export interface CommandShape {
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments it takes. */
  readonly positionals: number;
}

const HELP_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** What the command line asks for: help or the version to print, or a command to run. */
export type Invocation =
  | { readonly kind: 'print'; readonly output: string; readonly exitCode: number }
  | { readonly kind: 'run'; readonly words: string; readonly values: Values; readonly positionals: string[] };

/** node:util's parseArgs, with its errors made one-line usage errors. */
function parseOptions(words: string, args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({
      args,
      options: { ...options, ...HELP_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw error;
    const option = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? '';
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${option}`
        : ((error as Error).message.split('. ')[0] ?? 'bad option'),
      words,
    );
  }
}

/**
 * `commands` by their words (`serve`, `users list`); a command of two words belongs to the group
 * named by its first.
 */
export function parseInvocation(
  argv: string[],
  commands: Readonly<Record<string, CommandShape>>,
): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'print', output: USAGE, exitCode: EXIT.usage };
  if (first === 'help' && rest.length > 0) {
    const help = COMMAND_HELP[rest.join(' ')];
    if (help === undefined) throw new UsageError(`no help for "${rest.join(' ')}"`);
    return { kind: 'print', output: help, exitCode: 0 };
  }
  if (first === 'help' || first === '--help' || first === '-h')
    return { kind: 'print', output: USAGE, exitCode: 0 };
  if (first === '--version' || first === 'version')
    return { kind: 'print', output: packageVersion(), exitCode: 0 };
  if (first.startsWith('-')) {
    parseOptions('', argv, {});
    return { kind: 'print', output: USAGE, exitCode: EXIT.usage };
  }
  let words = first;
  let args = rest;
  const group = Object.keys(commands)
    .filter((words) => words.startsWith(`${first} `))
    .map((words) => words.slice(first.length + 1));
  if (group.length > 0) {
    const [action, ...more] = rest;
    if (action === undefined || action.startsWith('-')) {
      const { values } = parseOptions(first, rest, {});
      if (values.version) return { kind: 'print', output: packageVersion(), exitCode: 0 };
      if (values.help) return { kind: 'print', output: COMMAND_HELP[first] ?? USAGE, exitCode: 0 };
      throw new UsageError(`needs a command: ${group.join(', ')}`, first);
    }
    if (!group.includes(action)) throw new UsageError(`unknown command "${action}"`, first);
    words = `${first} ${action}`;
    args = more;
  }
  const command = commands[words];
  if (command === undefined) throw new UsageError(`unknown command "${first}"`);
  const { values, positionals } = parseOptions(words, args, command.options ?? {});
  if (values.version) return { kind: 'print', output: packageVersion(), exitCode: 0 };
  if (values.help) return { kind: 'print', output: COMMAND_HELP[words] ?? USAGE, exitCode: 0 };
  if (positionals.length !== command.positionals) {
    throw new UsageError(
      command.positionals === 0
        ? `takes no arguments, got "${positionals.join(' ')}"`
        : `takes ${command.positionals} argument${command.positionals > 1 ? 's' : ''}, got ${positionals.length}`,
      words,
    );
  }
  return { kind: 'run', words, values, positionals };
}
