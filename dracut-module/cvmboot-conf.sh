#!/bin/sh
# Shell helpers shared by the dracut module and the initrd generator: read a
# key of cvmboot.conf (INI) and turn its durations into seconds. POSIX sh,
# builtins only (the generator runs before anything else in the initrd).

# cvmboot_ini_get FILE SECTION KEY [all]: prints the last value of KEY in
# [SECTION] (empty when absent), or with "all" every value, one per line. Full-line ;/# comments and inline comments (a ';'
# after a blank) are dropped, as the agent's parser does; an inline '#' is
# part of the value.
cvmboot_ini_get() {
    _f=$1 _want_s=$2 _want_k=$3 _all=${4:-} _sect= _val=
    [ -r "$_f" ] || return 0
    while IFS= read -r _line || [ -n "$_line" ]; do
        _line=${_line%%[[:space:]];*}
        _line=${_line#"${_line%%[![:space:]]*}"}
        _line=${_line%"${_line##*[![:space:]]}"}
        case $_line in
            '' | ';'* | '#'*) continue ;;
            '['*']'*) _sect=${_line#[}; _sect=${_sect%%]*}; continue ;;
            *=*) ;;
            *) continue ;;
        esac
        [ "$_sect" = "$_want_s" ] || continue
        _k=${_line%%=*}
        _k=${_k%"${_k##*[![:space:]]}"}
        [ "$_k" = "$_want_k" ] || continue
        _val=${_line#*=}
        _val=${_val#"${_val%%[![:space:]]*}"}
        [ "$_all" = all ] && printf '%s\n' "$_val"
    done < "$_f"
    [ "$_all" = all ] || printf '%s\n' "$_val"
}

# cvmboot_ini_count FILE PREFIX: number of sections whose name starts with PREFIX.
cvmboot_ini_count() {
    _n=0
    [ -r "$1" ] || { echo 0; return 0; }
    while IFS= read -r _line || [ -n "$_line" ]; do
        _line=${_line#"${_line%%[![:space:]]*}"}
        case $_line in "[$2"*) _n=$((_n + 1)) ;; esac
    done < "$1"
    echo "$_n"
}

# cvmboot_seconds DURATION DEFAULT: "500ms", "5s", "2m", "1h" or a bare
# number of seconds -> whole seconds (rounded up); DEFAULT when unparsable.
cvmboot_seconds() {
    _d=$1
    case $_d in
        *ms) _n=${_d%ms}; _mul=0 ;;
        *s) _n=${_d%s}; _mul=1 ;;
        *m) _n=${_d%m}; _mul=60 ;;
        *h) _n=${_d%h}; _mul=3600 ;;
        *) _n=$_d; _mul=1 ;;
    esac
    case $_n in
        '' | *[!0-9]*) echo "$2"; return 0 ;;
    esac
    if [ "$_mul" = 0 ]; then
        echo $(((_n + 999) / 1000))
    else
        echo $((_n * _mul))
    fi
}

# cvmboot_cmdline_get CMDLINE KEY [all]: value of the last KEY=VALUE word,
# or with "all" every such value, one per line.
cvmboot_cmdline_get() {
    _v=
    for _w in $1; do
        case $_w in
            "$2="*)
                _v=${_w#"$2="}
                [ "${3:-}" = all ] && printf '%s\n' "$_v"
                ;;
        esac
    done
    [ "${3:-}" = all ] || printf '%s\n' "$_v"
}
