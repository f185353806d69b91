# bash completion for acp-storage(1)                        -*- shell-script -*-
# Installed as share/bash-completion/completions/acp-storage.

_acp_storage()
{
    local cur prev words cword
    _init_completion || return

    local global="--store --json --help"
    local group="" verb="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --store) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $group ]]; then
                    group=${words[i]}
                elif [[ -z $verb ]]; then
                    verb=${words[i]}
                fi
                ;;
        esac
    done

    case $prev in
        --store | --agent | --session | --cursor | --after | --type | --text | --id | --state | \
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

    if [[ -z $group ]]; then
        COMPREPLY=($(compgen -W "backends ping check verify run session event $global --version" -- "$cur"))
        return
    fi

    local opts=""
    case $group in
        run | session | event)
            if [[ -z $verb ]]; then
                case $group in
                    run | session) COMPREPLY=($(compgen -W "save get delete list" -- "$cur")) ;;
                    event) COMPREPLY=($(compgen -W "add list" -- "$cur")) ;;
                esac
                return
            fi
            case $group-$verb in
                run-save) opts="--agent --session --status --output" ;;
                run-list) opts="--agent --session --limit --offset --cursor --total --all" ;;
                session-save) opts="--id --state" ;;
                session-list) opts="--after --limit --all" ;;
                event-add) opts="--type --text" ;;
                event-list) opts="--limit --offset --after --all" ;;
            esac
            ;;
        check) opts="--filter --timeout" ;;
        verify) opts="--quarantine" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
    elif [[ $group == check || $group-$verb == run-save || $group-$verb == session-save ]]; then
        _filedir
    fi
} &&
    complete -F _acp_storage acp-storage
