// stacker completion: prints the shell completion script (completion.ts writes it from the program).
import type { Command } from 'commander';
import { completionScript } from '../completion.ts';
import { CliError, EXIT } from '../output.ts';
import { withExamples } from './shared.ts';

export function registerCompletionCommand(program: Command): void {
  withExamples(
    program
      .command('completion')
      .description('print a shell completion script')
      .argument('<shell>', 'bash or zsh')
      .action((shell: string) => {
        if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`no completion for "${shell}": bash or zsh`, EXIT.usage);
        process.stdout.write(completionScript(program, shell));
      }),
    'source <(stacker completion bash)',
    'stacker completion zsh > "${fpath[1]}/_stacker"',
  );
}
