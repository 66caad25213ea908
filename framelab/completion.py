"""Shell completion for bash and zsh, generated from the command line's parser (``framelab completion bash``).

The scripts are written from :func:`framelab.cli.build_parser` each time they are asked for, so a new
command, option or choice completes without editing them: commands, the options of each command,
the choices of an option or argument that has them (``--format``, ``--task``), and file names for
every other value.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """One option of a command: its spellings, a one-line help, and what value it takes."""

    names: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    repeatable: bool


@dataclass(frozen=True)
class Argument:
    """One positional argument: its name, its choices (none: a file name), and whether it takes several."""

    name: str
    choices: tuple[str, ...]
    many: bool


@dataclass(frozen=True)
class Command:
    """A sub-command (or, named ``""``, the program itself before one) and what it takes."""

    name: str
    help: str
    options: tuple[Option, ...]
    arguments: tuple[Argument, ...]


def _one_line(action: argparse.Action) -> str:
    """The first clause of ``action``'s help, its ``%(default)s`` filled in, at most 70 characters."""
    text = action.help or ""
    try:
        text = text % {**vars(action), "default": action.default}
    except (KeyError, TypeError, ValueError):
        text = text.replace("%%", "%")
    text = " ".join(text.split(";")[0].split())
    return text if len(text) <= 70 else text[:67].rsplit(" ", 1)[0] + "..."


def _command(name: str, parser: argparse.ArgumentParser) -> Command:
    options, arguments = [], []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        choices = tuple(str(c) for c in action.choices or ())
        if action.option_strings:
            repeatable = isinstance(action, (argparse._AppendAction, argparse._CountAction))
            options.append(
                Option(tuple(action.option_strings), _one_line(action), action.nargs != 0, choices, repeatable)
            )
        else:
            arguments.append(Argument(action.dest, choices, action.nargs in ("+", "*", argparse.REMAINDER)))
    return Command(name, parser.description or "", tuple(options), tuple(arguments))


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """The program (named ``""``) and each of its sub-commands, as ``parser`` defines them."""
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [_command("", parser), *(_command(name, sub) for name, sub in subs.choices.items())]


def _words(items: list[str] | tuple[str, ...]) -> str:
    return shlex.quote(" ".join(items))


def _bash_case(command: Command) -> str:
    """The ``case`` branch of one command: its options, those taking a value, their choices, its arguments'."""
    options = [name for o in command.options for name in o.names]
    valued = [name for o in command.options if o.takes_value for name in o.names]
    lines = [f"        {shlex.quote(command.name)})", f"            options={_words(options)}"]
    lines.append(f"            valued={_words(valued)}")
    choices = [a.choices for a in command.arguments if a.choices]
    if choices:
        lines.append(f"            arguments={_words(choices[0])}")
    with_choices = [o for o in command.options if o.takes_value and o.choices]
    if with_choices:
        lines.append('            case "$prev" in')
        for o in with_choices:
            lines.append(f"                {'|'.join(o.names)}) values={_words(o.choices)} ;;")
        lines.append("            esac")
    lines.append("            ;;")
    return "\n".join(lines)


_BASH = """\
# bash completion for framelab, generated from its parser by `framelab completion bash`.
# Load it with: source <(framelab completion bash)
_framelab() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" options="" valued="" values="" arguments="" i
    # The program's own options take no value: the first other word is the command.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *) command="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$command" in
{cases}
        *) return ;;
    esac
    if [[ -n "$values" ]]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
    elif [[ "$prev" == -* && " $valued " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [[ -z "$command" ]]; then
        COMPREPLY=($(compgen -W {commands} -- "$cur"))
    elif [[ -n "$arguments" ]]; then
        COMPREPLY=($(compgen -W "$arguments" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -o bashdefault -F _framelab framelab
"""


def bash_script(parser: argparse.ArgumentParser) -> str:
    """A bash completion script for ``parser``'s program."""
    found = commands(parser)
    names = [c.name for c in found if c.name]
    return _BASH.format(cases="\n".join(map(_bash_case, found)), commands=_words(names))


def _zsh_quoted(text: str) -> str:
    """``text`` inside a single-quoted word of ``_arguments`` or ``_describe``, brackets (which would end an
    option's description) as parentheses."""
    return text.replace("'", "'\\''").replace("[", "(").replace("]", ")")


def _zsh_option(option: Option) -> list[str]:
    specs = []
    for name in option.names:
        described = f"[{_zsh_quoted(option.help)}]" if option.help else ""
        spec = f"{'*' if option.repeatable else ''}{name}{described}"
        if option.takes_value:
            action = f"({' '.join(option.choices)})" if option.choices else "_files"
            spec += f":{_zsh_quoted(name.lstrip('-'))}:{action}"
        specs.append(f"'{spec}'")
    return specs


def _zsh_argument(argument: Argument, position: int) -> str:
    action = f"({' '.join(argument.choices)})" if argument.choices else "_files"
    return f"'{'*' if argument.many else position}:{_zsh_quoted(argument.name)}:{action}'"


def _zsh_specs(command: Command, indent: str) -> str:
    specs = [spec for o in command.options for spec in _zsh_option(o)]
    specs += [_zsh_argument(a, n) for n, a in enumerate(command.arguments, 1)]
    return f" \\\n{indent}".join(specs)


_ZSH = """\
#compdef framelab
# zsh completion for framelab, generated from its parser by `framelab completion zsh`.
# Save it as _framelab in a folder of $fpath, or load it with: source <(framelab completion zsh)
_framelab() {{
    local curcontext="$curcontext" state line
    typeset -A opt_args
    _arguments -C \\
        {top} \\
        '1:command:->command' \\
        '*::argument:->argument'
    case $state in
        command)
            local -a commands
            commands=(
{described}
            )
            _describe -t commands 'framelab command' commands
            ;;
        argument)
            curcontext="${{curcontext%:*:*}}:framelab-$words[1]:"
            case $words[1] in
{cases}
            esac
            ;;
    esac
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _framelab "$@"
else
    compdef _framelab framelab
fi
"""


def zsh_script(parser: argparse.ArgumentParser) -> str:
    """A zsh completion script for ``parser``'s program (an autoloaded ``_framelab`` or a sourced file)."""
    top, *subs = commands(parser)
    described = "\n".join(f"                '{_zsh_quoted(c.name)}:{_zsh_quoted(c.help.rstrip('.'))}'" for c in subs)
    cases = "\n".join(
        f"                {c.name})\n                    _arguments \\\n                        "
        f"{_zsh_specs(c, ' ' * 24)}\n                    ;;"
        for c in subs
    )
    return _ZSH.format(top=_zsh_specs(top, " " * 8), described=described, cases=cases)


#: The shells ``framelab completion`` writes a script for.
SCRIPTS: dict[str, Callable[[argparse.ArgumentParser], str]] = {"bash": bash_script, "zsh": zsh_script}
