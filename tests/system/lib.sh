# lib.sh - helpers the system tests share (sourced, not run).

# pick_port - a base port below the ephemeral range whose next 20 ports
# nobody listens on (a cluster uses base .. base + N, its control port too).
pick_port() {
    local p i busy
    for _ in $(seq 50); do
        p=$((20000 + (RANDOM * 7 + $$) % 12000)) busy=0
        for i in $(seq 0 19); do
            if command -v ss >/dev/null && [ -n "$(ss -Hltn "sport = :$((p + i))" 2>/dev/null)" ]; then
                busy=1; break
            fi
        done
        [ $busy -eq 0 ] && break
    done
    echo "$p"
}
