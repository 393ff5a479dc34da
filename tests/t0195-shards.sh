#!/bin/sh
# A batch split into shards gives exactly what the whole batch gives: job
# identity through the pipeline (od-tag -f: line and id; od-encode: job and
# id of a folder's pictures; od-denoise copies them), --shard I/N on the first
# tool, od-frame split and concat, output names from metadata (od-decode -o
# '%{KEY}'), and the bad input of all of it (pipeline/batch.h).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

mkdir photos
for i in 1 2 3 4 5; do odimg synth $i 80 64 photos/IMG_000$i.png; done
printf '%s\n' 'a red cube' 'a blue ball' '' 'a green cone on a table' 'a cat' > prompts.txt
t_ok "the depth task's prompt" od-tag -t depth2image '' -o tag.odf

# image -> depth over a folder, one run and three shards
depth() { # shard-option output-folder
	od-encode -S 64x64 -s 5 --prompt tag.odf $1 photos |
		od-denoise --mask 01 -n 2 -s 5 --progress=none | od-decode --role target -o "$2/%{source}.png"
}
t_ok "image -> depth over a folder, one run" depth "" whole
t_ok "... shard 0/3" depth "--shard 0/3" sharded
t_ok "... shard 1/3" depth "--shard 1/3" sharded
t_ok "... shard 2/3" depth "--shard 2/3" sharded
t_ok "... the shards make the same five names" sh -c '[ "$(ls whole)" = "$(ls sharded)" ] && [ $(ls whole | wc -l) -eq 5 ]'
same=0
for f in whole/*.png; do cmp -s "$f" "sharded/${f#whole/}" || same=1; done
t_result $same "... byte for byte the same pictures"
t_ok "... named after their sources" test -f whole/IMG_0004.png
odimg text sharded/IMG_0004.png > text4.txt
t_grep '^job=3$' text4.txt "... IMG_0004.png is job 3 in its shard too"
t_grep '^seed=8$' text4.txt "... with seed 5 + 3, whatever the shard"
t_grep '^id=IMG_0004$' text4.txt "... and id IMG_0004"
t_ok "a shard's first tool reads only its pictures (a broken one elsewhere is not read)" sh -c \
	"cp -r photos p2 && printf 'junk' > p2/IMG_0002.png && od-encode -S 64x64 --mode --shard 0/2 p2 > /dev/null"

# text -> image over a prompt file, named by the prompts' identity
t2i() { # shard-option output
	od-tag -f prompts.txt $1 | od-denoise -S 64x64 -n 2 -s 11 --progress=none | od-decode -o "$2"
}
t_ok "text -> image over a prompt file, one run" t2i "" 'tw/%{id}.png'
t_ok "... shard 0/2" t2i "--shard 0/2" 'ts/%{id}.png'
t_ok "... shard 1/2" t2i "--shard 1/2" 'ts/%{id}.png'
t_ok "... the same names" sh -c '[ "$(ls tw)" = "$(ls ts)" ] && [ $(ls tw | wc -l) -eq 5 ]'
same=0
for f in tw/*.png; do cmp -s "$f" "ts/${f#tw/}" || same=1; done
t_result $same "... byte for byte the same pictures"
h=$(printf 'a green cone on a table' | sha256sum | cut -c1-8)
t_ok "... line 4's picture is 000004-$h.png (line and SHA-256 of the line)" test -f "tw/000004-$h.png"
t_ok "... the empty line 3 is a job too" sh -c "ls tw | grep -q '^000003-'"
t_ok "%{job} and %d in one name" sh -c "od-tag -f prompts.txt --shard 1/2 | od-denoise -S 64x64 -n 2 -s 11 --progress=none |
	od-decode -o 'tj/job%03{job}-%d.png' && [ \"\$(ls tj | tr '\n' ' ')\" = 'job001-0.png job003-1.png ' ]"

# od-frame split and concat: shards of a stream, back in job order
t_ok "a whole batch's frames" sh -c "od-tag -f prompts.txt | od-denoise -S 64x64 -n 2 -s 11 --progress=none > whole.odf"
t_ok "od-frame split --shards 3" sh -c "od-tag -f prompts.txt | od-frame split --shards 3 -o 'text-%d.odf'"
t_ok "... jobs 1 and 4 in shard 1" sh -c "od-frame show text-1.odf | grep -c 'condition.*job=\"[14]\"' | grep -qx 2"
for i in 0 1 2; do
	t_ok "... shard $i denoised alone" sh -c "od-denoise -S 64x64 -n 2 -s 11 --progress=none text-$i.odf > out-$i.odf"
done
t_ok "... concatenated in job order: the whole batch's bytes" sh -c "od-frame concat out-2.odf out-0.odf out-1.odf | cmp - whole.odf"
t_ok "... split then concat gives the stream back" sh -c "od-tag -f prompts.txt > t.odf && od-frame concat text-0.odf text-1.odf text-2.odf | cmp - t.odf"
t_ok "--shard on od-tag is od-frame split's shard" sh -c "od-tag -f prompts.txt --shard 2/3 | cmp - text-2.odf"

# bad input: a clear line, the documented status, no output
t_fails 2 "od-tag --shard 3/3: out of range" od-tag -f prompts.txt --shard 3/3 -o bad.odf
t_grep "'3/3': the shard number must be from 0 to 2" "$T_ERR" "... says the range"
t_fails 2 "od-encode --shard 1/0" od-encode --shard 1/0 -o bad.odf photos
t_fails 2 "od-encode --shard -1/2" od-encode --shard -1/2 -o bad.odf photos
t_fails 2 "od-tag --shard 1" od-tag --shard 1 -f prompts.txt -o bad.odf
t_fails 3 "a shard without jobs" od-tag -f prompts.txt --shard 6/8 -o bad.odf
t_grep "no prompts in shard 6/8" "$T_ERR" "... says so"
t_fails 3 "od-encode: a shard without pictures" od-encode --pixels --shard 7/8 -o bad.odf photos
t_fails 3 "od-encode --prompt of a latent stream" sh -c "od-encode --pixels photos/IMG_0001.png > pix.odf &&
	od-encode --mode --prompt pix.odf -o bad.odf photos"
t_fails 3 "od-encode --shard over a frame stream" od-encode --mode --shard 0/2 -o bad.odf pix.odf
t_ok "no output file from any of them" test ! -e bad.odf

t_fails 3 "two jobs, one name" sh -c "od-tag -f prompts.txt | od-denoise -S 64x64 -n 2 --progress=none |
	od-decode -o 'dup/%{task}.png'"
t_grep "frame 0 and '<stdin>': frame 1 both make 'dup/text2image.png'" "$T_ERR" "... names both frames and the file"
t_ok "... and writes nothing, not even the folder" test ! -e dup
t_fails 3 "two pictures of one source, one name" sh -c "od-encode --pixels photos/IMG_0001.png photos/IMG_0002.png \
	photos/IMG_0001.png | od-decode -o 'dup2/%{source}-x.png'"
t_ok "... nothing written" test ! -e dup2
for v in .. . ../../etc/passwd /etc/passwd 'a/b' ''; do
	t_fails 3 "a metadata value '$v' in the name is refused" sh -c "od-encode --pixels photos/IMG_0001.png |
		od-frame select --set 'id=$v' | od-decode -o 'esc/%{id}.png'"
done
t_grep "id='' cannot be part of an output name: it is empty" "$T_ERR" "... says why"
t_fails 3 "source=.. is refused" sh -c "od-encode --pixels --set source=.. photos/IMG_0001.png | od-decode -o 'esc/%{source}.png'"
t_grep "source='..' cannot be part of an output name" "$T_ERR" "... naming the key and value"
t_ok "nothing written outside, nor inside" sh -c "test ! -e esc && test ! -e etc && test ! -e passwd.png && test ! -e ../passwd.png"
t_fails 3 "a key the frames lack" sh -c "od-encode --pixels photos/IMG_0001.png | od-decode -o 'x/%{nothing}.png'"
t_grep "has no 'nothing' metadata" "$T_ERR" "... says which"
t_fails 2 "a bad pattern" od-decode -o 'x/%{a b}.png' pix.odf
t_fails 2 "two %d" od-decode -o 'x/%d-%d.png' pix.odf
t_fails 2 "%s" od-decode -o 'x/%s.png' pix.odf
t_fails 2 "--grid with %{KEY}" od-decode --grid auto -o 'x/%{id}.png' pix.odf
t_fails 3 "concat: a job in two streams" od-frame concat -o bad.odf text-1.odf t.odf
t_grep "job 1 is in both 'text-1.odf' and 't.odf'" "$T_ERR" "... names both"
t_fails 3 "concat: a stream out of job order" sh -c "cat text-2.odf text-0.odf > mixed.odf &&
	od-frame concat -o bad.odf mixed.odf"
t_grep "'mixed.odf': frame 2 is job 0 after job 2: concat takes streams in job order" "$T_ERR" "... says where"
t_fails 3 "concat: a frame without a job" sh -c "od-frame concat -o bad.odf pix.odf"
t_fails 2 "split without %d" od-frame split --shards 2 -o part.odf t.odf
t_fails 3 "split: a frame without a job" od-frame split --shards 2 -o 'bad-%d.odf' pix.odf
t_ok "no output file from any of them" sh -c "test ! -e bad.odf && test ! -e bad-0.odf && test ! -e bad-1.odf"
t_done
