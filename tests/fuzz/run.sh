#!/bin/sh
# tests/fuzz/run.sh - build the libFuzzer targets and run each for a while.
#
# Usage: tests/fuzz/run.sh SECONDS [TARGET...]
#
# Purpose:   fuzz the parsers that read hostile input (bundle and its
#            validator, SSHSIG and allowed_signers, config, addresses, and
#            the relay's status file as the agent reads it) with clang's
#            libFuzzer under AddressSanitizer and UBSan.
# Build:     common/*.c (not *_win.c) is compiled with
#            -fsanitize=fuzzer-no-link,address,undefined into
#            build/fuzz/obj/; each target tests/fuzz/fuzz_T.c is linked
#            against it as build/fuzz/fuzz_T.  bundle_text is fuzz_bundle.c
#            built with -DFZ_BUNDLE_TEXT (input is gzip-compressed by the
#            harness, so mutations reach the line validator).  status
#            also compiles the agent's agent-win/push/verdict.c into the target.
# Corpus:    the committed seeds tests/fuzz/corpus/T/ are copied into
#            build/fuzz/corpus-T/, which libFuzzer grows; the committed
#            seeds stay small.  tests/fuzz/T.dict is used when present.
# Output:    one line per target on stdout, "ok - fuzz-T: ..." with the
#            executions, or "not ok - fuzz-T: ..." naming the reproducer
#            saved under build/fuzz/crashes/; then the total executions and
#            "N passed, N failed".  Logs: build/fuzz/logs/T.log.
# Exit:      0 when every target ran clean, 1 on any crash, leak, timeout or
#            build failure, 2 on bad usage.
# Env:       FUZZ_CC (default clang), FUZZ_JOBS (targets run side by side,
#            default: the number of CPUs), FUZZ_OUT (instead of build/fuzz,
#            e.g. for a long run beside make check).
# Trust:     runs only locally built code on generated input; writes only
#            under build/fuzz/ (or FUZZ_OUT).

ALL_TARGETS="addr cfg sshsig bundle bundle_text status"

usage() {
	echo "usage: tests/fuzz/run.sh SECONDS [TARGET...]" >&2
	echo "targets: $ALL_TARGETS" >&2
	exit 2
}

[ $# -ge 1 ] || usage
secs=$1; shift
case $secs in ''|*[!0-9]*) usage ;; esac
[ "$secs" -ge 1 ] || usage
targets=${*:-$ALL_TARGETS}
for t in $targets; do
	case " $ALL_TARGETS " in *" $t "*) ;; *) usage ;; esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
out=${FUZZ_OUT:-build/fuzz}
obj=$out/obj
logs=$out/logs
mkdir -p "$obj" "$logs" "$out/crashes" || exit 2

cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case $jobs in ''|*[!0-9]*|0) jobs=1 ;; esac

command -v "$cc" >/dev/null 2>&1 || {
	echo "not ok - fuzz-build: $cc is not installed (run make deps)"
	echo "0 passed, 1 failed"
	exit 1
}

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# The Makefile's WARN.
warn="-Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
-Wmissing-prototypes -Wvla -Werror"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer $san $warn \
-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Icommon -Itests/fuzz"
libs="-lcrypto -lz"

# Rebuild everything when the flags or the compiler change.
stamp=$obj/flags
want="$cc $cflags"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	rm -f "$obj"/*.o
	printf '%s\n' "$want" >"$stamp"
fi

# build_common: compile common/*.c when the source or any header is newer.
# A file that does not compile is left out (and reported); the targets that
# need it then fail to link, the others still run.
build_common() {
	objs="" bad=0
	for src in common/*.c; do
		case $src in *_win.c) continue ;; esac
		o=$obj/$(basename "$src" .c).o
		if [ -f "$o" ] && [ -z "$(find "$src" common/*.h -newer "$o")" ]
		then
			objs="$objs $o"
			continue
		fi
		echo "cc $src" >&2
		rm -f "$o"
		# shellcheck disable=SC2086
		if $cc $cflags -fsanitize=fuzzer-no-link -c -o "$o" "$src"; then
			objs="$objs $o"
		else
			bad=1
		fi
	done
	return $bad
}

# build_target T: link build/fuzz/fuzz_T.
build_target() {
	case $1 in
	bundle_text) src=tests/fuzz/fuzz_bundle.c def=-DFZ_BUNDLE_TEXT ;;
	status) src="tests/fuzz/fuzz_status.c agent-win/push/verdict.c"
		def=-Iagent-win/push ;;
	*) src=tests/fuzz/fuzz_$1.c def= ;;
	esac
	echo "link fuzz_$1" >&2
	# shellcheck disable=SC2086
	$cc $cflags $def -fsanitize=fuzzer -o "$out/fuzz_$1" $src $objs $libs
}

# run_target T: fuzz for $secs; result in $logs/T.rc, output in $logs/T.log.
run_target() {
	t=$1
	c=$out/corpus-$t
	mkdir -p "$c"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp tests/fuzz/corpus/"$t"/* "$c"/ 2>/dev/null
	fi
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	# Input size cap per target: a little over the largest input the
	# parser has a limit for (RS_MAX_SIG_BYTES, a config file worth
	# fuzzing, RS_MAX_HDR_BYTES, a status file of a few dozen agents),
	# since bigger inputs only cost speed.
	case $t in
	addr) maxlen=1024 ;;
	status) maxlen=16384 ;;
	cfg) maxlen=8192 ;;
	sshsig) maxlen=16384 ;;
	*) maxlen=70000 ;;
	esac
	# shellcheck disable=SC2086
	"$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
	    -timeout=10 -rss_limit_mb=2048 -max_len="$maxlen" \
	    -artifact_prefix="$out/crashes/$t-" $dict "$c" \
	    >"$logs/$t.log" 2>&1 </dev/null
	echo $? >"$logs/$t.rc"
}

pass=0 fail=0 total=0
if ! build_common 2>"$logs/build.log"; then
	echo "some of common/ did not build:" >&2
fi
cat "$logs/build.log" >&2

# Build every target first, then run them in batches of $jobs.
runnable=
for t in $targets; do
	rm -f "$logs/$t.rc" "$logs/$t.log"
	if build_target "$t" >"$logs/$t.build" 2>&1; then
		runnable="$runnable $t"
	else
		cat "$logs/build.log" >>"$logs/$t.build"
		echo "not ok - fuzz-$t: build failed (see $logs/$t.build)"
		sed 's/^/  | /' "$logs/$t.build" | tail -n 20 >&2
		fail=$((fail + 1))
	fi
done

n=0
for t in $runnable; do
	run_target "$t" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait

for t in $runnable; do
	log=$logs/$t.log
	rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=0
	total=$((total + execs))
	cov=$(sed -n 's/^#[0-9].* cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "ok - fuzz-$t: $execs execs, 0 crashes, cov ${cov:-?} in ${secs}s"
		pass=$((pass + 1))
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		kind=$(grep -m 1 -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|invariant failed|ALARM|out-of-memory' "$log")
		echo "not ok - fuzz-$t: 1 crash after $execs execs: ${kind:-exit $rc}; reproducer ${art:-none}; log $log"
		sed 's/^/  | /' "$log" | grep -v '^  | #' | tail -n 40 >&2
		fail=$((fail + 1))
	fi
done
echo "total executions: $total"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
