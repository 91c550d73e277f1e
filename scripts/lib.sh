# Shared by the scripts that start nodes; sourced, not run. Gives a scratch
# folder ($tmp) removed on exit with the node whose pid is in $node_pid and
# those in the array $pids, wait_for, stop_node and install_anvil.

anvil=target/clients/anvil/node_modules/.bin/anvil
tmp=$(mktemp -d)
node_pid=
pids=()
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Waits until something listens on 127.0.0.1:$1 (30 s at most).
wait_for() {
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Stops the node started last.
stop_node() {
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
