#!/bin/sh
# tests/fuzz/mkcorpus.sh - regenerate the bundle seeds of the fuzz corpus.
#
# Purpose:  writes tests/fuzz/corpus/bundle_text/NAME (decompressed text)
#           and tests/fuzz/corpus/bundle/NAME.rcpt.gz (gzip -n of the same)
#           for a few valid bundles (docs/FORMAT.md section 2) and a few
#           that break one rule each, so the fuzzers start next to both.
#           Deterministic: same output on every run.
# Usage:    tests/fuzz/mkcorpus.sh   (then review with git diff)
# Other seeds are hand-made and documented in tests/fuzz/README.md.
# Trust:    writes only into tests/fuzz/corpus/.

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top/tests/fuzz/corpus" || exit 2
mkdir -p bundle bundle_text || exit 2

# bundle NAME AGENT SEQ KIND DOMAINS COUNT SHA FLAGS CREATED ENTRY...
# COUNT "-" means the number of entries; SHA "-" means their real hash.
bundle() {
	name=$1 agent=$2 seq=$3 kind=$4 domains=$5 count=$6 sha=$7 flags=$8
	created=$9
	shift 9
	body=$(mktemp) || exit 2
	for e in "$@"; do printf '%s\n' "$e"; done >"$body"
	[ "$count" = - ] && count=$#
	[ "$sha" = - ] && sha=$(sha256sum <"$body" | cut -d' ' -f1)
	{
		printf 'rcptsync-list 1\nagent: %s\nsequence: %s\n' "$agent" "$seq"
		printf 'created: %s\nkind: %s\n' "$created" "$kind"
		printf 'source: ldap://dc1.corp.test/DC=corp,DC=test\n'
		printf 'domains: %s\ncount: %s\nlist-sha256: %s\n' \
		    "$domains" "$count" "$sha"
		[ -n "$flags" ] && printf 'flags: %s\n' "$flags"
		printf '\n'
		cat "$body"
	} >"bundle_text/$name"
	gzip -9nc <"bundle_text/$name" >"bundle/$name.rcpt.gz"
	rm -f "$body"
}

t=2026-11-22T21:50:00Z
bundle full-3 corp 1763848200 full "corp.test example.org" - - "" $t \
    alice@corp.test bob@example.org carol@corp.test
bundle full-shrink mx-1.corp_a 9223372036854775807 full \
    "branch.corp.test corp.test xn--bcher-kva.example" - - allow-shrink \
    2028-02-29T23:59:59Z \
    1@corp.test a.b.c@corp.test "o'brien+tag@branch.corp.test" \
    '{x}|~=?^`@xn--bcher-kva.example'
bundle heartbeat corp 1763848500 heartbeat corp.test 0 \
    5e0cabababababababababababababababababababababababababababababab "" $t
bundle bad-order corp 2 full corp.test - - "" $t b@corp.test a@corp.test
bundle bad-count corp 3 full corp.test 2 - "" $t a@corp.test
bundle bad-domain corp 4 full corp.test - - "" $t a@evil.test
# 100 domains fill a header line (RS_MAX_HDR_LINE); 257 overflow it (and
# RS_MAX_DOMAINS, which the line limit makes unreachable).
bundle domains-100 corp 5 full \
    "$(seq -f 'd%03g.test' 1 100 | tr '\n' ' ' | sed 's/ $//')" - - "" $t \
    a@d001.test z@d100.test
bundle domains-257 corp 6 full \
    "$(seq -f 'd%03g.test' 1 257 | tr '\n' ' ' | sed 's/ $//')" - - "" $t \
    a@d001.test

# Damaged gzip files around a valid one.
head -c 100 bundle/full-3.rcpt.gz >bundle/trunc.rcpt.gz
{ cat bundle/full-3.rcpt.gz; printf X; } >bundle/trailing.rcpt.gz
cat bundle/heartbeat.rcpt.gz bundle/heartbeat.rcpt.gz \
    >bundle/two-members.rcpt.gz
{ cat bundle_text/full-3; head -c 200000 /dev/zero; } | gzip -9n \
    >bundle/bomb.rcpt.gz
# A member that ends exactly at gz.c's 64 KiB read chunk, then one byte
# more: the trailing-data check must look past the buffer into the file.
# Stored (level 0) deflate makes the size exact; the source field pads.
python3 - bundle/boundary-trailing.rcpt.gz <<'PY' || exit 1
import hashlib, sys, zlib
def make(nent, srclen):
    body = "".join("u%06d@corp.test\n" % i for i in range(nent))
    src = ("ldap://dc1.corp.test/" + "x" * 600)[:srclen]
    text = ("rcptsync-list 1\nagent: corp\nsequence: 7\n"
            "created: 2026-11-22T21:50:00Z\nkind: full\nsource: %s\n"
            "domains: corp.test\ncount: %d\nlist-sha256: %s\n\n"
            % (src, nent, hashlib.sha256(body.encode()).hexdigest())) + body
    c = zlib.compressobj(0, zlib.DEFLATED, 31)
    return c.compress(text.encode()) + c.flush()
for nent in range(4000, 3000, -1):
    for srclen in range(30, 512):
        g = make(nent, srclen)
        if len(g) == 65536:
            open(sys.argv[1], "wb").write(g + b"X")
            sys.exit(0)
        if len(g) > 65536:
            break
sys.exit("no exact size found")
PY
# fuzz_bundle also reads its input as a spool name and as a time.
printf 'corp.1763848200.rcpt.gz' >bundle/name-valid
printf '2026-11-22T21:50:00Z' >bundle/time-valid
