#!/usr/bin/env bash
# Runs every Go benchmark of the module, each in its own process (so the
# peak-memory figure belongs to that benchmark), and writes docs/benchmarks.md:
# the command, the machine, a table of the figures, the raw output, and the
# hand-written notes from docs/benchmarks-notes.md.
#
#   scripts/bench.sh                 # all benchmarks
#   BENCH=Queue scripts/bench.sh     # only benchmarks whose name matches
#   BENCHTIME=5s scripts/bench.sh    # longer runs (default 3s; BenchmarkPipeline*
#                                    # always runs -benchtime 1x -timeout 60m: one
#                                    # iteration is a fixed, minutes-long amount of work)
#   OUT=/tmp/b.md scripts/bench.sh   # write elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-3s}
OUT=${OUT:-docs/benchmarks.md}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... )
for pkg in $pkgs; do
	names=$(go test -list "Benchmark.*${BENCH}|Benchmark${BENCH}.*" "$pkg" 2>/dev/null | grep '^Benchmark' || true)
	for name in $names; do
		benchtime=$BENCHTIME timeout=10m
		case $name in BenchmarkPipeline*) benchtime=1x timeout=60m ;; esac
		echo ">> $pkg $name" >&2
		go test -run '^$' -bench "^${name}\$" -benchtime "$benchtime" -timeout "$timeout" -benchmem "$pkg" \
			| grep -E '^(Benchmark|pkg:)' | tee -a "$raw" >&2
	done
done

# Whether the tree differs from the commit, before $OUT is rewritten below
# (which would always count as a change).
dirty=$(git diff --quiet HEAD -- . ":(exclude)$OUT" 2>/dev/null || echo ' (with uncommitted changes)')
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) — do not edit by hand; notes go in"
	echo "docs/benchmarks-notes.md, which is appended below."
	echo
	echo "- Command: \`make bench\` (BENCH=${BENCH} BENCHTIME=${BENCHTIME}; each benchmark in its own process: \`go test -run '^\$' -bench '^NAME\$' -benchtime ${BENCHTIME} -benchmem PKG\`; BenchmarkPipeline* with -benchtime 1x -timeout 60m)"
	echo "- Machine: ${cpu:-unknown CPU}, $(nproc) cores, ${mem:-unknown memory}, $(uname -sr)"
	echo "- Go: $(go env GOVERSION)"
	echo "- Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty}"
	echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "## Figures"
	echo
	echo "| package | benchmark | metrics |"
	echo "|---|---|---|"
	awk '
		/^pkg:/ { pkg=$2; sub(/^github.com\/sfbridge\/sfbridge\//, "", pkg); next }
		/^Benchmark/ {
			name=$1; sub(/-[0-9]+$/, "", name)
			m=""
			for (i=3; i<NF; i+=2) {
				v=$i; u=$(i+1)
				if (u=="ns/op" || u=="B/op") continue
				m = m (m==""?"":", ") v " " u
			}
			printf "| %s | %s | %s |\n", pkg, name, m
		}' "$raw"
	echo
	if [ -f docs/benchmarks-notes.md ]; then
		cat docs/benchmarks-notes.md
		echo
	fi
	echo "## Raw output"
	echo
	echo '```'
	cat "$raw"
	echo '```'
} > "$OUT"
echo "wrote $OUT" >&2
