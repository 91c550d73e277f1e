# Shared by the scripts that start nodes; sourced, not run. Gives a scratch
# folder ($tmp) removed on exit with the node whose pid is in $node_pid and
# those in the array $pids, wait_for, stop_node, install_anvil, free_port,
# rpc (a JSON-RPC call with curl and jq) and need (commands a script needs).

anvil=target/clients/anvil/node_modules/.bin/anvil
tmp=$(mktemp -d)
node_pid=
pids=()
cleanup() {
    [ -n "$node_pid" ] && { pkill -P "$node_pid"; kill "$node_pid"; } 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Installs the commands named (Debian packages of the same names) that are
# missing, or says which are and exits 2.
need() {
    local missing=() t
    for t in "$@"; do command -v "$t" > /dev/null || missing+=("$t"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]} from Debian's packages" >&2
    if ! { apt-get install -y -qq "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; } > /dev/null 2>&1; then
        echo "this script needs ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
        exit 2
    fi
}

# Waits until something listens on 127.0.0.1:$1 (30 s at most).
wait_for() {
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Prints a loopback TCP port nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Calls JSON-RPC method $2 with params $3 (JSON, default []) on
# 127.0.0.1:$1 and prints the result as compact JSON (the error object,
# and status 1, if it fails).
rpc() {
    local answer
    answer=$(curl -sf -m 30 -H 'Content-Type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" \
        "http://127.0.0.1:$1") || return 1
    if jq -e 'has("error")' <<< "$answer" > /dev/null; then
        jq -c '.error' <<< "$answer"
        return 1
    fi
    jq -c '.result' <<< "$answer"
}

# Stops the node started last, and its children (anvil from npm is a node
# wrapper around the real binary).
stop_node() {
    pkill -P "$node_pid" 2>/dev/null || true
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=
}

# Installs anvil 1.7.1 from npm into target/clients/anvil, once.
install_anvil() {
    if [ ! -x "$anvil" ]; then
        mkdir -p target/clients/anvil
        printf '{"name":"lanes-anvil","private":true}\n' > target/clients/anvil/package.json
        npm install --prefix target/clients/anvil --no-audit --no-fund @foundry-rs/anvil@1.7.1 >&2
    fi
}
