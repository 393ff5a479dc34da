#!/bin/sh
# t0765: od-eval compare: two results.json (od-eval results --json) value by
# value: a run against itself, a subset of its items, changed values within
# and beyond a tolerance, failed items, summaries; bad files and bad usage
# with one line on stderr and the documented status (1 differ, 2 usage,
# 3 bad input, 5 I/O).
. "$OD_SRCDIR/tests/lib.sh"
F=$OD_SRCDIR/tests/fixtures/eval
cd "$T_TMP" || exit 1

# a run folder as make eval lays one out: a spec and lists relative to it
run() { # DIR IMAGE_LIST: results.json of the pictures and depth maps in DIR
	mkdir -p "$1"
	cp -r "$F/image" "$F/depth" "$1/"
	cp "$F/depth.list" "$1/"
	printf '%s\n' "$2" > "$1/image.list"
	printf 'pictures\timage\tmodel\timage.list\ndepth\tdepth\tmodel\tdepth.list\n' > "$1/run.tsv"
	(cd "$1" && od-eval results --json results.json -o results.md run.tsv)
}
all='image/p1.png image/g1.png
image/p2.png image/g2.png
image/p3.png image/g3.png
image/p4.png image/g4.png'
t_ok "a run of 2 tasks, 7 items" run a "$all"
t_ok "... against itself: no difference (exit 0)" sh -c 'od-eval compare --summary a/results.json a/results.json > self.csv'
t_ok "... a line per task, row and column, every value compared, none beyond" awk -F, '
	NR == 1 { ok = $0 == "task,row,column,items,beyond,worst,reference,value,item"; next }
	{ n++; if ($5 != 0 || $6 != 0) ok = 0; if ($1 == "pictures" && $3 == "psnr" && $4 != 5) ok = 0 }
	END { exit !(ok && n >= 7) }' self.csv

# a subset of the scenes: found in the reference; not the other way round
t_ok "two of the pictures" run b "$(echo "$all" | sed -n 2,3p)"
t_ok "the subset against the whole run: exit 0" od-eval compare a/results.json b/results.json
t_grep '^pictures,model,psnr,2,0,0,' "$T_TMP/out" "... 2 pictures compared"
t_fails 1 "the whole run against the subset: exit 1" od-eval compare b/results.json a/results.json
t_grep "compare: 2 things of 'a/results.json' not matched in 'b/results.json'; the first: task 'pictures', row 'model': item 'gt=image/g1.png, pred=image/p1.png' is not in the reference" \
	"$T_ERR" "... naming the first item the reference lacks"
t_fails 1 "--summary: the subset's means are not the run's" od-eval compare --summary a/results.json b/results.json
t_grep "values beyond the tolerance; the worst: task 'pictures', row 'model', '.*' of '(summary)'" "$T_ERR" \
	"... the summary named as the item"

# a changed prediction: the same names, other values (p2.png: g2.png's mean colour)
mkdir -p c && cp -r a/* c/ && od-eval baseline mean "$F/image/g2.png" -o c/image/p2.png
t_ok "... scored" sh -c 'cd c && od-eval results --json results.json -o results.md run.tsv'
t_fails 1 "exact comparison: exit 1" od-eval compare a/results.json c/results.json
t_grep "^od-eval: compare: 2 of 20 values beyond the tolerance; the worst: task 'pictures', row 'model', '[a-z]*' of 'gt=image/g2.png, pred=image/p2.png': " \
	"$T_ERR" "... the worst value named, with its item"
t_ok "... within a loose tolerance (--rel 10 --abs 1): exit 0" od-eval compare --rel 10 --abs 1 a/results.json c/results.json
t_ok "--format md and json" sh -c 'od-eval compare -F md a/results.json a/results.json | grep -q "^| pictures | model | psnr | 4 | 0 | 0 |" &&
	od-eval compare -F json a/results.json a/results.json | grep -q "^{\"command\": \"compare\",$"'
t_ok "the reference from standard input" sh -c 'od-eval compare - a/results.json < a/results.json > /dev/null'
t_ok "-o: the table is written even when values differ" sh -c '! od-eval compare -o diff.csv a/results.json c/results.json 2> /dev/null && grep -q "^pictures,model,psnr,4,1," diff.csv'

# a failed item: a difference unless the reference failed the same way
mkdir -p d && cp -r a/* d/ && rm d/image/p3.png
t_ok "a run with a missing prediction" sh -c 'cd d && od-eval results --json results.json -o results.md run.tsv'
t_fails 1 "its failure is a difference" od-eval compare a/results.json d/results.json
t_grep "item 'image/p3.png' failed: 'image/p3.png'" "$T_ERR" "... naming the failed item and why"
t_ok "... not against a reference that failed the same way" od-eval compare d/results.json d/results.json

# bad files (3) and usage (2), I/O (5)
printf 'not json' > bad.json
printf '{"format": "od-eval-results", "version": 2, "tasks": []}\n' > v2.json
printf '{"format": "od-cameras", "version": 1, "tasks": []}\n' > fmt.json
printf '{"format": "od-eval-results", "version": 1, "tasks": [{"task": "t", "rows": []}, {"task": "t", "rows": []}]}\n' > twice.json
printf '{"format": "od-eval-results", "version": 1, "tasks": [{"task": "t", "rows": [{"row": "r", "items": 0, "failed": 0, "summary": {}, "failures": []}]}]}\n' > noscores.json
printf '{"format": "od-eval-results", "version": 1, "tasks": [{"task": "t", "rows": [{"row": "r", "items": 1, "failed": 0, "summary": {}, "failures": [], "scores": [{"pred": "a", "psnr": [1]}]}]}]}\n' > array.json
t_fails 3 "not JSON" od-eval compare a/results.json bad.json
t_grep "^od-eval: 'bad.json': not valid JSON: " "$T_ERR" "... naming the file"
t_fails 3 "version 2" od-eval compare v2.json a/results.json
t_grep "'v2.json': not version 1" "$T_ERR" "... saying so"
t_fails 3 "another format" od-eval compare a/results.json fmt.json
t_grep "'fmt.json': its format is not od-eval-results" "$T_ERR" "... saying so"
t_fails 3 "a task twice" od-eval compare twice.json twice.json
t_grep "'twice.json': task 't' is there twice" "$T_ERR" "... saying so"
t_fails 3 "a row without scores" od-eval compare noscores.json a/results.json
t_grep "'noscores.json': task 't', row 1: not an object with" "$T_ERR" "... saying where"
t_fails 3 "a score that is a list" od-eval compare array.json array.json
t_grep "'array.json': task 't', row 1, score 1: 'psnr' is not a file name, a number or null" "$T_ERR" "... saying where"
t_fails 5 "a missing file" od-eval compare a/results.json nope.json
t_grep "'nope.json'" "$T_ERR" "... named"
t_fails 2 "one file" od-eval compare a/results.json
t_fails 2 "a negative tolerance" od-eval compare --rel -1 a/results.json a/results.json
t_fails 2 "both from standard input" od-eval compare - - < a/results.json
t_ok "nothing written on a bad file" sh -c '! od-eval compare -o out.csv a/results.json bad.json 2> /dev/null && test ! -e out.csv'
t_done
