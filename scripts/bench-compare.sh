#!/usr/bin/env bash
# Before/after comparison of criterion benches: builds the bench(es) at a
# base commit (in a temporary git worktree, with its own CARGO_TARGET_DIR)
# and in this checkout (HEAD plus any uncommitted change), runs them
# interleaved — base, head, base, head, ... — and prints a markdown table of
# criterion's medians, each with its ratio to the raw baseline of the same
# run, and head against base.
#
# The bench files, and the files they include with #[path], are taken from
# this checkout and copied into the base worktree (with a [[bench]] entry
# added to the crate's Cargo.toml if the base lacks it), so both sides run
# the same measuring code over their own library. They must therefore use
# only API the base has.
#
# Usage: scripts/bench-compare.sh [options] [-- criterion arguments]
#   --base REV      base commit (default b73861c)
#   --rounds N      base/head rounds (default 3)
#   --bench NAME    bench target to run, repeatable (default core_measures);
#                   looked up as crates/*/benches/NAME.rs
#   --out DIR       where results go (default
#                   <head target dir>/bench-compare/<date>-<base>)
#   --table DIR     only print the table of an earlier --out DIR
#   -h, --help      this text
#
# Environment: CARGO_TARGET_DIR (head's target dir; default ./target; the
# base builds in <that>/bench-compare/base-target), CARGO_BUILD_JOBS (passed
# on to cargo).
#
# A criterion argument after `--` goes to every run, e.g. `-- core_mailslot`
# to run one group only.

set -euo pipefail

base=b73861c
rounds=3
benches=()
out=
table_only=
criterion_args=()

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
    case $1 in
        --base) base=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --bench) benches+=("$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        --table) table_only=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; criterion_args=("$@"); break ;;
        *) echo "bench-compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#benches[@]} -gt 0 ] || benches=(core_measures)
case $rounds in ''|*[!0-9]*|0) echo "bench-compare: --rounds wants a positive number" >&2; exit 2 ;; esac

repo=$(git rev-parse --show-toplevel)
cd "$repo"

# ---- the table ---------------------------------------------------------
#
# One line per (side, round, benchmark): side round order full_id group
# function value throughput_kind throughput_amount median_ns.
collect() {
    local dir=$1 side round home log order id bjson est group func value tkind tamount median
    for side in base head; do
        for round in $(ls "$dir/$side" 2>/dev/null | sed -n 's/^round//p' | sort -n); do
            home=$dir/$side/round$round
            # Order of appearance in the logs: the benches' own order.
            order=0
            for log in "$home"/*.log; do
                [ -e "$log" ] || continue
                sed -n 's/^Benchmarking \(.*\): Analyzing$/\1/p' "$log"
            done | awk '!seen[$0]++' > "$home/.order"
            while IFS= read -r bjson; do
                est=${bjson%/benchmark.json}/estimates.json
                [ -e "$est" ] || continue
                id=$(sed -n 's/.*"full_id":"\([^"]*\)".*/\1/p' "$bjson")
                group=$(sed -n 's/.*"group_id":"\([^"]*\)".*/\1/p' "$bjson")
                func=$(sed -n 's/.*"function_id":"\([^"]*\)".*/\1/p' "$bjson")
                value=$(sed -n 's/.*"value_str":"\([^"]*\)".*/\1/p' "$bjson")
                tkind=$(sed -n 's/.*"throughput":{"\([A-Za-z]*\)":\([0-9]*\)}.*/\1/p' "$bjson")
                tamount=$(sed -n 's/.*"throughput":{"\([A-Za-z]*\)":\([0-9]*\)}.*/\2/p' "$bjson")
                median=$(sed -n 's/.*"median":{"confidence_interval":{[^}]*},"point_estimate":\([0-9.eE+-]*\).*/\1/p' "$est")
                order=$(grep -nxF -- "$id" "$home/.order" | head -n1 | cut -d: -f1 || true)
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$round" "${order:-9999}" "$id" \
                    "$group" "$func" "${value:--}" "${tkind:-none}" "${tamount:-0}" "$median"
            done < <(find "$home" -path '*/new/benchmark.json' | sort)
        done
    done
}

table() {
    local dir=$1
    collect "$dir" | awk -F'\t' '
    function med(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return ""
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    # The figure shown: GiB/s for bytes, k/s for elements, µs for none.
    function fig(id, ns) {
        if (kind[id] == "Bytes") return amount[id] * 1e9 / ns / 1073741824
        if (kind[id] == "Elements") return amount[id] * 1e9 / ns / 1000
        return ns / 1000
    }
    function unit(id) {
        if (kind[id] == "Bytes") return "GiB/s"
        if (kind[id] == "Elements") return "k/s"
        return "µs"
    }
    function fmt(x) { return x == "" ? "–" : (x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
    {
        side = $1; round = $2; id = $4
        if (!(id in ord) || $3 + 0 < ord[id] + 0) ord[id] = $3
        group[id] = $5; func[id] = $6; value[id] = $7; kind[id] = $8; amount[id] = $9
        ns[side, round, id] = $10
        rounds[side, round] = 1
        if (!(id in seen)) { seen[id] = 1; ids[++nid] = id }
        if (round + 0 > maxround) maxround = round + 0
    }
    END {
        # Sort ids by order of appearance, then name.
        for (i = 1; i <= nid; i++) for (j = i + 1; j <= nid; j++)
            if (ord[ids[j]] + 0 < ord[ids[i]] + 0 || (ord[ids[j]] == ord[ids[i]] && ids[j] < ids[i])) { t = ids[i]; ids[i] = ids[j]; ids[j] = t }
        # Raw baseline of each id: the first raw* function of its group
        # with the same parameter.
        for (i = 1; i <= nid; i++) {
            id = ids[i]
            if (func[id] ~ /^raw/ && !((group[id], value[id]) in rawof)) rawof[group[id], value[id]] = id
        }
        print "| benchmark | unit | base | head | head vs base | base vs raw | head vs raw |"
        print "|---|---|---|---|---|---|---|"
        for (i = 1; i <= nid; i++) {
            id = ids[i]
            raw = ((group[id], value[id]) in rawof) ? rawof[group[id], value[id]] : ""
            for (s = 1; s <= 2; s++) {
                side = s == 1 ? "base" : "head"
                figs[side] = ""; nss[side] = ""; ratios[side] = ""
                for (r = 1; r <= maxround; r++) {
                    if (!((side, r, id) in ns)) continue
                    figs[side] = figs[side] " " fig(id, ns[side, r, id])
                    nss[side] = nss[side] " " ns[side, r, id]
                    if (raw != "" && raw != id && ((side, r, raw) in ns)) {
                        # Time ratio for latencies, throughput ratio otherwise.
                        q = (kind[id] == "none") ? ns[side, r, id] / ns[side, r, raw] : ns[side, r, raw] / ns[side, r, id]
                        ratios[side] = ratios[side] " " q
                    }
                }
            }
            mb = med(nss["base"]); mh = med(nss["head"])
            vs = "–"
            if (mb != "" && mh != "") {
                sp = mb / mh
                vs = sp >= 1 ? sprintf("%.2f× faster", sp) : sprintf("%.2f× slower", 1 / sp)
            }
            rk = (kind[id] == "none") ? "× time" : "× thr"
            rb = med(ratios["base"]); rh = med(ratios["head"])
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", id, unit(id), fmt(med(figs["base"])), fmt(med(figs["head"])), vs,
                rb == "" ? (raw == id ? "(raw)" : "–") : sprintf("%.2f%s", rb, rk),
                rh == "" ? (raw == id ? "(raw)" : "–") : sprintf("%.2f%s", rh, rk)
        }
        print ""
        print "Per round (figure, and ratio to the raw baseline of the same run):"
        print ""
        hdr = "| benchmark |"; sep = "|---|"
        for (r = 1; r <= maxround; r++) { hdr = hdr sprintf(" base %d | head %d |", r, r); sep = sep "---|---|" }
        print hdr; print sep
        for (i = 1; i <= nid; i++) {
            id = ids[i]
            raw = ((group[id], value[id]) in rawof) ? rawof[group[id], value[id]] : ""
            line = "| " id " |"
            for (r = 1; r <= maxround; r++) for (s = 1; s <= 2; s++) {
                side = s == 1 ? "base" : "head"
                if (!((side, r, id) in ns)) { line = line " – |"; continue }
                cell = fmt(fig(id, ns[side, r, id])) " " unit(id)
                if (raw != "" && raw != id && ((side, r, raw) in ns)) {
                    q = (kind[id] == "none") ? ns[side, r, id] / ns[side, r, raw] : ns[side, r, raw] / ns[side, r, id]
                    cell = cell sprintf(" (%.2f×)", q)
                }
                line = line " " cell " |"
            }
            print line
        }
    }'
}

if [ -n "$table_only" ]; then
    table "$table_only"
    exit 0
fi

# ---- build -------------------------------------------------------------

base_rev=$(git rev-parse --verify "$base^{commit}")
head_rev=$(git rev-parse --verify HEAD)
head_target=${CARGO_TARGET_DIR:-$repo/target}
case $head_target in /*) ;; *) head_target=$repo/$head_target ;; esac
base_target=$head_target/bench-compare/base-target
[ -n "$out" ] || out=$head_target/bench-compare/$(date +%Y%m%d-%H%M%S)-${base_rev:0:7}
mkdir -p "$out"
out=$(cd "$out" && pwd)

dirty=$(git status --porcelain --untracked-files=no | wc -l)
started=$(date +%s)

worktree=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare-base.XXXXXX")
cleanup() {
    git -C "$repo" worktree remove --force "$worktree" >/dev/null 2>&1 || rm -rf "$worktree"
    git -C "$repo" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
rmdir "$worktree"
git worktree add --detach --quiet "$worktree" "$base_rev"

# Bench name -> package and file, from this checkout.
declare -A package file
for name in "${benches[@]}"; do
    found=$(ls crates/*/benches/"$name".rs 2>/dev/null | head -n1 || true)
    [ -n "$found" ] || { echo "bench-compare: no crates/*/benches/$name.rs" >&2; exit 2; }
    crate_dir=${found%/benches/*}
    package[$name]=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$crate_dir/Cargo.toml" | head -n1)
    file[$name]=$found
    # The same measuring code on both sides: the bench file, and any file it
    # includes with #[path = "..."] (core_measures includes the workloads it
    # shares with `pipeslot bench`, crates/pipeslot-cli/src/bench/measures.rs).
    mkdir -p "$worktree/$crate_dir/benches"
    cp "$found" "$worktree/$found"
    for included in $(sed -n 's/^#\[path *= *"\([^"]*\)"\].*/\1/p' "$found"); do
        included=$(realpath -m --relative-to=. "$crate_dir/benches/$included")
        mkdir -p "$worktree/$(dirname "$included")"
        cp "$included" "$worktree/$included"
    done
    if ! grep -q "^name *= *\"$name\"" "$worktree/$crate_dir/Cargo.toml"; then
        printf '\n[[bench]]\nname = "%s"\nharness = false\n' "$name" >> "$worktree/$crate_dir/Cargo.toml"
    fi
done

# Builds the benches in $1 with target dir $2; prints "name<TAB>executable".
build() {
    local src=$1 target=$2 name json exe
    for name in "${benches[@]}"; do
        echo "bench-compare: building $name in $src (target $target)" >&2
        json=$(cd "$src" && CARGO_TARGET_DIR=$target cargo bench -p "${package[$name]}" --bench "$name" \
            --no-run --message-format=json-render-diagnostics)
        exe=$(printf '%s\n' "$json" | grep '"reason":"compiler-artifact"' \
            | grep "\"name\":\"$name\"" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
        [ -n "$exe" ] || { echo "bench-compare: no executable for $name" >&2; exit 1; }
        printf '%s\t%s\n' "$name" "$exe"
    done
}

build "$worktree" "$base_target" > "$out/executables.base"
build "$repo" "$head_target" > "$out/executables.head"
declare -A exe_base exe_head
while IFS=$'\t' read -r name exe; do exe_base[$name]=$exe; done < "$out/executables.base"
while IFS=$'\t' read -r name exe; do exe_head[$name]=$exe; done < "$out/executables.head"
# The base binaries live in its target dir; the worktree is no longer needed.
cleanup
built=$(date +%s)

{
    echo "base: $base_rev ($(git log -1 --format=%s "$base_rev" | cut -c1-60))"
    echo "head: $head_rev$([ "$dirty" -gt 0 ] && echo " + $dirty uncommitted file(s)")"
    echo "benches: ${benches[*]}; rounds: $rounds; criterion args: ${criterion_args[*]:-(none)}"
    echo "machine: $(nproc) CPUs, $(uname -sr), $(rustc -V 2>/dev/null || echo rustc?), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
} > "$out/README"

# ---- run, interleaved --------------------------------------------------

run() {
    local side=$1 round=$2 name exe home
    home=$out/$side/round$round
    mkdir -p "$home"
    for name in "${benches[@]}"; do
        if [ "$side" = base ]; then exe=${exe_base[$name]}; else exe=${exe_head[$name]}; fi
        echo "bench-compare: round $round/$rounds, $side, $name" >&2
        (cd "$home" && CRITERION_HOME=$home "$exe" --bench --noplot "${criterion_args[@]}") \
            > "$home/$name.log" 2>&1 || { echo "bench-compare: $side $name failed, see $home/$name.log" >&2; exit 1; }
    done
}

for round in $(seq 1 "$rounds"); do
    run base "$round"
    run head "$round"
done
finished=$(date +%s)

echo "build: $((built - started)) s; runs: $((finished - built)) s" >> "$out/README"
{
    cat "$out/README"
    echo
    table "$out"
} | tee "$out/table.md"
echo >&2
echo "bench-compare: results in $out (table.md; reprint with --table $out)" >&2
