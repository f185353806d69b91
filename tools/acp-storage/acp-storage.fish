# SPDX-License-Identifier: MIT
# fish completion for acp-storage(1).  Installed as
# share/fish/vendor_completions.d/acp-storage.fish.

function __acp_storage_backends
    acp-storage --json backends 2>/dev/null | string match -ar '"name":"[a-z0-9_]*"' | string split -f4 '"'
end

# The words after the program name that are not options (nor an option's value).
function __acp_storage_words
    set -l words (commandline -opc)
    set -e words[1]
    set -l out
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case --store --profile --format --agent --session --status --output --limit --offset --cursor --after --type --text --id --state --filter --timeout --if-version --since --until --finished-before --batch
                set skip 1
            case '-*'
            case '*'
                set -a out $w
        end
    end
    if set -q out[1]
        printf '%s\n' $out
    end
end

# __acp_storage_is GROUP [VERB]: the command line so far is that command.
function __acp_storage_is
    set -l w (__acp_storage_words)
    test (count $w) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$w[$i]" = "$argv[$i]"; or return 1
    end
    test (count $w) -eq (count $argv)
end

function __acp_storage_no_command
    test (count (__acp_storage_words)) -eq 0
end

complete -c acp-storage -f
# Global options.
complete -c acp-storage -l store -x -d 'the store URI' -a '(__acp_storage_backends | string replace -r \'$\' :)'
complete -c acp-storage -l profile -x -d 'a profile of the configuration file'
complete -c acp-storage -l json -d 'one JSON object; errors as JSON too'
complete -c acp-storage -l format -x -a 'table lines json' -d 'how lists print'
complete -c acp-storage -s h -l help -d 'show help'
complete -c acp-storage -n __acp_storage_no_command -l version -d 'show the versions'

# Commands.
complete -c acp-storage -n __acp_storage_no_command -a backends -d 'list the backend plugins'
complete -c acp-storage -n __acp_storage_no_command -a ping -d 'check that the store answers'
complete -c acp-storage -n __acp_storage_no_command -a check -d 'run the conformance suite'
complete -c acp-storage -n __acp_storage_no_command -a migrate -d 'show or run the schema migration'
complete -c acp-storage -n '__fish_seen_subcommand_from migrate' -l dry-run -d 'show, change nothing'
complete -c acp-storage -n '__fish_seen_subcommand_from migrate' -l statements -d 'print each step\'s SQL'
complete -c acp-storage -n __acp_storage_no_command -a purge -d 'delete old finished runs'
complete -c acp-storage -n __acp_storage_no_command -a stats -d 'what the store holds'
complete -c acp-storage -n __acp_storage_no_command -a export -d 'write the store as a dump'
complete -c acp-storage -n __acp_storage_no_command -a import -d 'load a dump into the store'
complete -c acp-storage -n __acp_storage_no_command -a copy -d 'copy into another store'
complete -c acp-storage -n __acp_storage_no_command -a diff -d 'compare two stores'
complete -c acp-storage -n __acp_storage_no_command -a run -d 'runs'
complete -c acp-storage -n __acp_storage_no_command -a session -d 'sessions'
complete -c acp-storage -n __acp_storage_no_command -a event -d 'events of a run'
complete -c acp-storage -n __acp_storage_no_command -a bench -d 'run the benchmark program'
complete -c acp-storage -n __acp_storage_no_command -a help -d 'help of a command'
complete -c acp-storage -n '__acp_storage_is help' -a 'backends ping check purge stats run session event bench'
for g in run session
    complete -c acp-storage -n "__acp_storage_is $g; or __acp_storage_is help $g" -a 'save get delete list'
end
complete -c acp-storage -n '__acp_storage_is event; or __acp_storage_is help event' -a 'add list'

# export, import, copy.
complete -c acp-storage -n '__fish_seen_subcommand_from export' -s o -l out -r -d 'write to FILE'
complete -c acp-storage -n '__fish_seen_subcommand_from import copy' -l resume -d 'continue an interrupted move'
complete -c acp-storage -n '__fish_seen_subcommand_from import copy' -l replace -d 'replace what exists'
complete -c acp-storage -n '__fish_seen_subcommand_from copy' -l from -x -d 'source store'
complete -c acp-storage -n '__fish_seen_subcommand_from copy' -l to -x -d 'target store'
complete -c acp-storage -n '__fish_seen_subcommand_from copy' -l verify -d 'compare afterwards'

# check: a backend by name or a plugin file.
complete -c acp-storage -n '__acp_storage_is check' -F -a '(__acp_storage_backends)'
complete -c acp-storage -n '__fish_seen_subcommand_from check' -l filter -x -d 'only checks whose name contains'
complete -c acp-storage -n '__fish_seen_subcommand_from check' -l timeout -x -d 'seconds per check'

# run, session, event.
set -l statuses 'created in-progress awaiting cancelling cancelled completed failed'
complete -c acp-storage -n '__acp_storage_is run save' -F
complete -c acp-storage -n '__acp_storage_is run save' -l agent -x -d 'agent name'
complete -c acp-storage -n '__acp_storage_is run save' -l session -x -d 'session id'
complete -c acp-storage -n '__acp_storage_is run save' -l status -x -a $statuses -d 'status'
complete -c acp-storage -n '__acp_storage_is run save' -l output -x -d 'an output text'
complete -c acp-storage -n '__acp_storage_is run save' -l if-version -x -d 'store only at this version'
complete -c acp-storage -n '__acp_storage_is run save' -l if-absent -d 'store only if no such run'
complete -c acp-storage -n '__acp_storage_is run list' -l agent -x -d 'only runs of agent'
complete -c acp-storage -n '__acp_storage_is run list' -l session -x -d 'only runs of session'
complete -c acp-storage -n '__acp_storage_is run list' -l cursor -x -d 'start after the page of this cursor'
complete -c acp-storage -n '__acp_storage_is run list' -l total -d 'count every match'
complete -c acp-storage -n '__acp_storage_is run list' -l status -x -d 'statuses, comma-separated'
complete -c acp-storage -n '__acp_storage_is run list' -l since -x -d 'created at or after (30d, RFC 3339)'
complete -c acp-storage -n '__acp_storage_is run list' -l until -x -d 'created before (30d, RFC 3339)'
complete -c acp-storage -n '__acp_storage_is purge' -l finished-before -x -d 'finished before (30d, RFC 3339)'
complete -c acp-storage -n '__acp_storage_is purge' -l status -x -d 'statuses, comma-separated'
complete -c acp-storage -n '__acp_storage_is purge' -l agent -x -d 'only runs of agent'
complete -c acp-storage -n '__acp_storage_is purge' -l dry-run -d 'count only'
complete -c acp-storage -n '__acp_storage_is purge' -l batch -x -d 'runs per batch'
complete -c acp-storage -n '__acp_storage_is session save' -F
complete -c acp-storage -n '__acp_storage_is session save' -l id -x -d 'session id'
complete -c acp-storage -n '__acp_storage_is session save' -l state -x -d 'state, any JSON'
complete -c acp-storage -n '__acp_storage_is session list' -l after -x -d 'only ids after'
complete -c acp-storage -n '__fish_seen_subcommand_from event; and __fish_seen_subcommand_from add' -l type -x -d 'event type'
complete -c acp-storage -n '__fish_seen_subcommand_from event; and __fish_seen_subcommand_from add' -l text -x -d 'text payload'
complete -c acp-storage -n '__fish_seen_subcommand_from event; and __fish_seen_subcommand_from list' -l after -x -d 'after sequence number'
complete -c acp-storage -n '__fish_seen_subcommand_from event; and __fish_seen_subcommand_from list' -s f -l follow -d 'print events as they are stored'
complete -c acp-storage -n '__fish_seen_subcommand_from list' -l limit -x -d 'page size'
complete -c acp-storage -n '__fish_seen_subcommand_from list' -l all -d 'every page'
complete -c acp-storage -n '__fish_seen_subcommand_from run event; and __fish_seen_subcommand_from list' -l offset -x -d 'skip first'

# bench: the benchmark program's options.
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l baseline -x -a 'auto none memory sqlite file postgres redis'
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l runs -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l events-per-run -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l threads -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l repeats -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l phases -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l seed -x
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l scale
complete -c acp-storage -n '__fish_seen_subcommand_from bench' -l quiet
