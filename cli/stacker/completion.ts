// Shell completion for stacker: commands, subcommands and options, generated from the program itself.
import type { Command } from 'commander';

function words(command: Command): { subcommands: string[]; options: string[] } {
  return {
    subcommands: command.commands.map((sub) => sub.name()),
    options: command.options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => Boolean(flag))).concat('--help'),
  };
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const cases: string[] = [];
  const visit = (command: Command, path: string[]) => {
    const { subcommands, options } = words(command);
    const globalOptions = path.length > 0 ? words(program).options : [];
    cases.push(`    "${path.join(' ')}") candidates="${[...subcommands, ...options, ...globalOptions].join(' ')}" ;;`);
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  const bash = `# stacker completion (${shell}): source <(stacker completion ${shell})
_stacker_complete() {
  local current="\${COMP_WORDS[COMP_CWORD]}" path="" word candidates=""
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) if [ -z "$path" ]; then path="$word"; else path="$path $word"; fi ;; esac
  done
  while :; do
    case "$path" in
${cases.join('\n')}
      *) if [ "\${path% *}" = "$path" ]; then path=""; else path="\${path% *}"; fi; continue ;;
    esac
    break
  done
  COMPREPLY=( $(compgen -W "$candidates" -- "$current") )
}
complete -o default -F _stacker_complete stacker
`;
  if (shell === 'bash') return bash;
  return `#compdef stacker\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}
