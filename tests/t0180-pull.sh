#!/bin/sh
# od-model pull against a stand-in for the Hugging Face hub on 127.0.0.1
# (tests/tools/odhub) serving the shipped model in the hub's URL layout: a
# whole download, checked and identical; only the folders od reads unless
# --all; pages of the file list; redirects to a CDN; an interrupted transfer
# resumed with a Range request; a server without ranges; a wrong checksum (LFS
# and git ids); a 404; folders in the way; the pulled model found without
# OD_MODEL. What the hub claims (sizes, SHA-256, git blob ids) is computed here
# with sha256sum and sha1sum, not with od's hashing.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
t_need sha256sum sha1sum

# the repository: the shipped model and two files od does not read
mkdir -p repo/assets
cp -R "$OD_MODEL"/. repo/
printf '# tiny-onediffusion\n' > repo/README.md
cp "$OD_GOLDEN/cases/pipeline/rgb_64x64.png" repo/assets/example.png
(cd repo && find . -type f | sed 's|^\./||' | sort) > paths.txt
: > manifest.txt
while read -r p; do
	size=$(wc -c < "repo/$p")
	git=$({ printf 'blob %d\000' "$size"; cat "repo/$p"; } | sha1sum | cut -d' ' -f1)
	case $p in
	*.safetensors | *.model | *.png) lfs=$(sha256sum "repo/$p" | cut -d' ' -f1) ;;
	*) lfs= ;;
	esac
	echo "$p $size $git $lfs" >> manifest.txt
done < paths.txt
t_result $(($(wc -l < manifest.txt) < 12)) "the repository has $(wc -l < manifest.txt) files"

# hub [OPTIONS]: start a server; HF_ENDPOINT points at it
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
hub() {
	rm -f port.txt log.txt
	odhub --port-file port.txt --log log.txt "$@" manifest.txt repo test/OneDiffusion 2> hub.err &
	HUB=$!
	PIDS="$PIDS $HUB"
	i=0
	while [ ! -s port.txt ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	HF_ENDPOINT=http://127.0.0.1:$(cat port.txt)
	export HF_ENDPOINT
}
unhub() {
	kill $HUB 2>/dev/null
	wait $HUB 2>/dev/null
}
same_model() { # DIR: the files od reads, identical to the repository's
	for f in $(grep -v -e README -e assets paths.txt); do
		cmp -s "repo/$f" "$1/$f" || return 1
	done
}

hub
t_ok "pull" od-model pull test/OneDiffusion m1
t_ok "... every file od reads, identical" same_model m1
t_ok "... and no other (README.md, assets/)" sh -c "test ! -e m1/README.md && test ! -e m1/assets"
t_ok "... no partial folder left" test ! -e m1.partial
t_ok "... a model od-model info --check accepts" od-model info --check m1
t_ok "... and the tools run on" sh -c "od-tag -m m1 'a cat' | od-denoise -m m1 -n 1 -S 16x16 | od-decode -m m1 -o m1.png"
t_grep "GET /api/models/test/OneDiffusion/tree/main?recursive=true" log.txt "the file list: the tree endpoint"
t_grep "GET /test/OneDiffusion/resolve/main/transformer/diffusion_pytorch_model.safetensors" log.txt \
	"the files: the resolve endpoint"
t_ok "pull again: up to date" sh -c "od-model pull test/OneDiffusion m1 2> again.err && grep -q 'up to date' again.err"
t_ok "--all: every file" sh -c "od-model pull --all test/OneDiffusion m2 && cmp repo/README.md m2/README.md && cmp repo/assets/example.png m2/assets/example.png"
t_ok "--include" sh -c "od-model pull --include 'vae/*' test/OneDiffusion m3 && test -s m3/vae/config.json && test ! -e m3/transformer"
if command -v script > /dev/null 2>&1; then
	script -qec "od-model pull test/OneDiffusion tty1" /dev/null < /dev/null > tty.txt 2>&1
	t_result $? "pull on a terminal"
	t_grep "od-model: pull [0-9]*/[0-9]* [a-z_/.]*: .* MB/s" tty.txt "... shows a status line: the file, the bytes, the rate"
	t_grep "pulled test/OneDiffusion into 'tty1'" tty.txt "... and what it did"
fi
t_ok "-q: nothing on standard error" sh -c "od-model pull -q test/OneDiffusion q1 2> q.err && test ! -s q.err"
t_fails 5 "an unknown repository: the tree is a 404" od-model pull test/Nothing m4
t_grep "HTTP 404" "$T_ERR" "... says so"
t_fails 5 "a revision that does not exist" od-model pull --revision nope --endpoint "$HF_ENDPOINT/nowhere" test/OneDiffusion m4
t_ok "... no folder" test ! -e m4
t_fails 2 "not a repository name" od-model pull OneDiffusion m4
t_fails 2 "a folder in the way" sh -c "mkdir -p busy/x && od-model pull test/OneDiffusion busy"
t_grep "exists and does not hold this model" "$T_ERR" "... is named"
# the default folder, and the tools finding the pulled model without OD_MODEL
t_ok "pull without a folder: \$XDG_DATA_HOME/od/NAME" sh -c \
	"XDG_DATA_HOME=$T_TMP/xdg od-model pull test/OneDiffusion && test -s xdg/od/OneDiffusion/vae/config.json"
t_ok "the tools find it without OD_MODEL" sh -c \
	"env -u OD_MODEL XDG_DATA_HOME=$T_TMP/xdg od-tag -v 'a cat' 2> v.err > /dev/null && grep -q \"model '$T_TMP/xdg/od/OneDiffusion'\" v.err"
unhub

# the list in pages, linked by Link: rel="next"; LFS files from a "CDN"
hub --page 3 --redirect
t_ok "a list in pages, LFS files redirected" od-model pull test/OneDiffusion p1
t_ok "... identical" same_model p1
t_result "$(grep -c 'tree/main?recursive=true&cursor=' log.txt | awk '{ print ($1 >= 2) ? 0 : 1 }')" "... the pages were followed"
t_grep "GET /cdn/vae/diffusion_pytorch_model.safetensors" log.txt "... and the redirects"
unhub

# an interrupted transfer, resumed from where it stopped
big=vae/diffusion_pytorch_model.safetensors
hub --cut $big:100000
t_fails 5 "a transfer cut after 100000 bytes" od-model pull test/OneDiffusion r1
t_grep "run again to resume" "$T_ERR" "... says how to go on"
t_ok "... no model folder" test ! -e r1
t_ok "... the part kept" sh -c "test \$(wc -c < r1.partial/$big.part) -eq 100000"
t_ok "... the files done before it kept" test -s r1.partial/model_index.json
t_ok "run again: resumed" sh -c "od-model pull test/OneDiffusion r1 2> r.err && grep -q resumed r.err"
t_grep "GET /test/OneDiffusion/resolve/main/$big range=bytes=100000-" log.txt "... with a Range request from byte 100000"
t_ok "... identical" same_model r1
t_ok "... no partial folder left" test ! -e r1.partial
unhub
# a server that ignores Range: the file starts again
hub --no-range --cut $big:100000
od-model pull test/OneDiffusion r2 2> /dev/null
t_ok "no Range support: a second run fetches the whole file again" od-model pull test/OneDiffusion r2
t_ok "... identical" same_model r2
unhub

# a wrong checksum: the file is not kept, and no model appears
hub --corrupt $big
t_fails 3 "a corrupted LFS file" od-model pull test/OneDiffusion c1
t_grep "'$big': its SHA-256 is" "$T_ERR" "... names the file and the SHA-256"
t_ok "... the download is removed" test ! -e c1.partial/$big.part
t_ok "... no model folder" test ! -e c1
unhub
hub --corrupt transformer/config.json
t_fails 3 "a corrupted small file" od-model pull test/OneDiffusion c2
t_grep "'transformer/config.json': its git id is" "$T_ERR" "... checked by its git blob id"
unhub
# a missing file
hub --missing tokenizer/spiece.model
t_fails 5 "a file the hub does not have" od-model pull test/OneDiffusion n1
t_grep "spiece.model': HTTP 404" "$T_ERR" "... a 404, named"
t_ok "... no model folder" test ! -e n1
unhub
t_fails 5 "no server at all" od-model pull --endpoint http://127.0.0.1:1 test/OneDiffusion x1
t_done
