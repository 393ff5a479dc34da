#!/bin/sh
# od, the porcelain (od(1)): a command for every task of od-tag --list-tags;
# --dry-run prints the pipeline the man page shows for each task; the tasks
# run on the shipped model; the exit status and the one message of the first
# stage that failed; its own usage errors; the common options passed on; and
# coreutils' od still reachable by the command lines that are its.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
PIPE=$OD_GOLDEN/cases/pipeline

# every tag is a task
od --list-options > list.txt
for tag in $(od-tag --list-tags | sed 1d | cut -d' ' -f1); do
	grep -qx "$tag" list.txt
	t_result $? "od has the task $tag"
done

# the man page's pipelines are what --dry-run prints
awk '/^\.Ss Tasks/{p=1} /^\.Sh OPTIONS/{p=0} p' "$OD_SRCDIR/man/od.1" |
	awk '/^\.Bd -literal/{b=1; n++; next} /^\.Ed/{b=0; next} b{print n "\t" $0}' |
	sed 's/\\e/\\/g' > blocks.txt
n=$(cut -f1 blocks.txt | sort -u | wc -l)
t_result $((n < 20)) "the man page shows $n task pipelines"
for i in $(cut -f1 blocks.txt | sort -un); do
	grep "^$i	" blocks.txt | cut -f2- > block.txt
	cmd=$(head -1 block.txt | sed 's/^\$ //')
	want=$(sed 1d block.txt | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
	got=$(eval "$cmd --dry-run" 2>&1 | tr -s ' ')
	if [ "$got" = "$want" ]; then
		t_result 0 "man od: $cmd"
	else
		t_result 1 "man od: $cmd"
		echo "# man page: $want"
		echo "# --dry-run: $got"
	fi
	task=$(echo "$cmd" | cut -d' ' -f2)
	echo "$task" >> documented.txt
done
for task in $(grep -v '^-' list.txt); do
	grep -qx "$task" documented.txt
	t_result $? "man od shows the pipeline of $task"
done

# --dry-run runs nothing; the common options go to every tool that takes them
t_ok "--dry-run writes nothing" sh -c "od text2image x -o none.png --dry-run > dry.txt && test ! -e none.png"
t_ok "the common options are passed on" sh -c \
	"od depth x.png -m M -j 1 --device cpu --progress=none --precision bf16 -q -S 32x32 -n 3 -g 2 -s 5 --dry-run > dry.txt"
for tool in od-tag od-encode od-denoise od-decode; do
	t_ok "... to $tool" sh -c "tr '|;' '\n\n' < dry.txt | grep '$tool' |
		grep -q -- '-m M --device cpu -j 1 --progress=none --precision bf16 -q'"
done
t_grep "od-encode -S 32x32 -s 5 " dry.txt "the size and seed go to od-encode"
t_grep "od-denoise --mask 01 -n 3 -g 2 -s 5 " dry.txt "steps, guidance and seed go to od-denoise"
t_ok "--seed random: one seed drawn for od-encode and od-denoise" sh -c \
	"od depth x.png -s random --dry-run > r.txt && s=\$(sed -n 's/.*od-encode -s \([0-9]*\) .*/\1/p' r.txt) &&
	 test -n \"\$s\" && grep -q \"od-denoise --mask 01 -s \$s \" r.txt"

# the tasks run, on the shipped model at small sizes
t_ok "text2image" od text2image 'a red cube' -S 16x16 -n 1 -o cube.png
t_ok "... the picture" sh -c "odimg info cube.png | grep -qx '16 16'"
t_ok "text2image to standard output" sh -c "od text2image 'a red cube' -S 16x16 -n 1 | cmp - cube.png"
t_ok "text2image -f: a picture per line" sh -c \
	"printf 'a\nb\n' > p.txt && od text2image -f p.txt -S 16x16 -n 1 -o 'f_%d.png' && test -s f_0.png && test -s f_1.png"
t_ok "depth" od depth "$PIPE/depth_100x75.png" -S 16x16 -n 1 -o d.png
t_ok "... with -S, the size given" sh -c "odimg info d.png | grep -qx '16 16'"
t_ok "--count 2" sh -c "od text2image x -S 16x16 -n 1 --count 2 -o 'c_%d.png' && test -s c_0.png && test -s c_1.png && ! cmp -s c_0.png c_1.png"
t_ok "faceid" od faceid "$PIPE/rgb_64x64.png" -r 'a man with a beard' 'the man as an astronaut' -S 16x16 -n 1 -o face.png
t_ok "segment" od segment "$PIPE/rgb_64x64.png" --region cyan:dragon -S 16x16 -n 1 -o seg.png
t_ok "multiview" od multiview "$PIPE/mv_view0_64x64.png" -a 0,45,90 -S 64 -n 1 -o views.png
t_ok "... two generated views on one sheet" sh -c "odimg info views.png | grep -qx '128 64'"
t_ok "pose" od pose "$PIPE/mv_view0_64x64.png" "$PIPE/rgb_64x64.png" "$PIPE/mv_view0_64x64.png" -S 64 -n 1 -o cams.json
t_grep '"view": 2' cams.json "... the cameras of the generated views"
t_ok "--json" sh -c "od text2image 'a cat' -S 16x16 -n 1 -s 3 --json -o j.png && grep -q '\"seed\": \"3\"' j.json"
t_ok "-v prints the pipeline first" sh -c "od text2image x -S 16x16 -n 1 -v -o v.png 2> v.err && grep -q '^od-tag .* | od-denoise ' v.err"

# a stage that fails: its status and its one message; the later stages stopped
printf 'not a picture' > bad.png
t_fails 3 "a corrupt picture: od-encode's status" od depth bad.png -S 16x16 -n 1 -o bad-out.png
t_grep "^od-encode: 'bad.png': " "$T_ERR" "... and its message, alone"
t_ok "... no output" test ! -e bad-out.png
t_fails 5 "an output that cannot be written: od-decode's status" od text2image x -S 16x16 -n 1 -o no/such/dir/x.png
# its own usage errors, before anything runs
t_fails 2 "text2image without a prompt" od text2image -o x.png
t_fails 2 "depth without a picture" od depth -o x.png
t_fails 2 "depth with two pictures" od depth a.png b.png -o x.png
t_fails 2 "faceid with four pictures" od faceid a.png b.png c.png d.png x -o x.png
t_fails 2 "multiview without -a" od multiview front.png -o x.png
t_fails 2 "-a outside multiview" od depth x.png -a 0,10
t_fails 2 "--count without a pattern" od text2image x --count 2 -o x.png
t_fails 2 "pose with a word" od pose a.png b.png hello
t_fails 2 "an unknown task" od frobnicate
t_grep "^od: unknown command 'frobnicate'" "$T_ERR" "... is named"
t_fails 2 "no model" env -u OD_MODEL od text2image x -o x.png
t_grep "^od: text2image: no model" "$T_ERR" "... od says so itself"
t_fails 2 "a size that is not a multiple of 16" od text2image x -S 20x20

# coreutils' od: command lines that are its are handed to it
if [ -x /usr/bin/od ]; then
	printf 'hello, od\n' > data.bin
	t_ok "od -An -tx1 FILE is the octal dump" sh -c "od -An -tx1 data.bin | cmp - \$(/usr/bin/od -An -tx1 data.bin > want.txt; echo want.txt)"
	t_ok "od FILE too" sh -c "od data.bin > got.txt && /usr/bin/od data.bin | cmp - got.txt"
	t_ok "od -c with a pipe on standard input too" sh -c "printf ab | od -c > got.txt && printf ab | /usr/bin/od -c | cmp - got.txt"
	t_ok "but od --help is this od's" sh -c "od --help | grep -q '^Usage: od text2image'"
else
	echo "# /usr/bin/od is missing: the hand-over to coreutils is not checked"
fi
t_done
