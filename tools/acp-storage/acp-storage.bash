# SPDX-License-Identifier: MIT
# bash completion for acp-storage(1)                        -*- shell-script -*-
# Installed as share/bash-completion/completions/acp-storage.

# The backend plugins the command finds (names only).
_acp_storage_backends()
{
    "${1:-acp-storage}" --json backends 2>/dev/null |
        grep -o '"name":"[a-z0-9_]*"' | cut -d'"' -f4
}

# The commands of a group.
_acp_storage_verbs()
{
    case $1 in
        run | session) echo "save get delete list" ;;
        event) echo "add list" ;;
    esac
}

_acp_storage()
{
    local cur prev words cword
    _init_completion || return

    local global="--store --profile --json --format --help"
    local group="" verb="" third="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --store | --profile | --format) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $group ]]; then
                    group=${words[i]}
                elif [[ -z $verb ]]; then
                    verb=${words[i]}
                elif [[ -z $third ]]; then
                    third=${words[i]}
                fi
                ;;
        esac
    done

    # acp-storage bench has options of its own.
    if [[ $group == bench ]]; then
        case $prev in
            --baseline)
                COMPREPLY=($(compgen -W "auto none memory sqlite file postgres redis" -- "$cur"))
                return
                ;;
            --json) _filedir; return ;;
            --store | --runs | --events-per-run | --threads | --repeats | --phases | --seed | \
                --scale-sizes | --scale-file-max | --overhead-calls)
                return
                ;;
        esac
        COMPREPLY=($(compgen -W "--store --baseline --runs --events-per-run --threads --repeats
            --phases --seed --json --scale --scale-sizes --scale-file-max --no-overhead
            --overhead-calls --quiet --help --version" -- "$cur"))
        return
    fi

    case $prev in
        --store)
            # A scheme first: the backends found, each as "name:".
            if [[ $cur != *:* ]]; then
                compopt -o nospace 2>/dev/null
                COMPREPLY=($(compgen -S : -W "$(_acp_storage_backends "${words[0]}")" -- "$cur"))
            fi
            return
            ;;
        --format)
            COMPREPLY=($(compgen -W "table lines json" -- "$cur"))
            return
            ;;
        --profile)
            # The profiles of the configuration file.
            local conf=${XDG_CONFIG_HOME:-$HOME/.config}/acp-storage/config
            [[ -r $conf ]] && COMPREPLY=($(compgen -W "$(sed -n 's/^[[:space:]]*\[profile[[:space:]]*\([^]]*\)\].*/\1/p; s/^[[:space:]]*\[default\].*/default/p' "$conf")" -- "$cur"))
            return
            ;;
        --agent | --session | --cursor | --after | --type | --text | --id | --state | \
            --filter | --output)
            return
            ;;
        --status)
            COMPREPLY=($(compgen -W "created in-progress awaiting cancelling cancelled completed failed" -- "$cur"))
            return
            ;;
        --limit | --offset | --timeout)
            return
            ;;
    esac

    local commands="backends ping check verify migrate purge archive stats export import copy diff run session event bench help"
    if [[ -z $group ]]; then
        COMPREPLY=($(compgen -W "$commands $global --version" -- "$cur"))
        return
    fi

    local opts=""
    case $group in
        help)
            if [[ -z $verb ]]; then
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            elif [[ -z $third ]]; then
                COMPREPLY=($(compgen -W "$(_acp_storage_verbs "$verb")" -- "$cur"))
            fi
            return
            ;;
        run | session | event)
            if [[ -z $verb ]]; then
                COMPREPLY=($(compgen -W "$(_acp_storage_verbs "$group")" -- "$cur"))
                return
            fi
            case $group-$verb in
                run-save) opts="--agent --session --status --output --if-version --if-absent" ;;
                run-list) opts="--agent --session --status --since --until --limit --offset --cursor --total --all" ;;
                session-save) opts="--id --state" ;;
                session-list) opts="--after --limit --all" ;;
                event-add) opts="--type --text" ;;
                event-list) opts="--limit --offset --after --all --follow" ;;
            esac
            ;;
        check) opts="--filter --timeout" ;;
        verify) opts="--quarantine" ;;
        migrate) opts="--dry-run --statements" ;;
        purge) opts="--finished-before --status --agent --dry-run --batch" ;;
        archive) opts="--limit" ;;
        export) opts="--out -o" ;;
        import) opts="--resume --replace" ;;
        copy) opts="--from --to --resume --replace --verify" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
    elif [[ $group == check ]]; then
        # A backend by name, or a plugin file.
        COMPREPLY=($(compgen -W "$(_acp_storage_backends "${words[0]}")" -- "$cur"))
        _filedir so
    elif [[ $group-$verb == run-save || $group-$verb == session-save || $group == import ]]; then
        _filedir
    fi
} &&
    complete -F _acp_storage acp-storage
