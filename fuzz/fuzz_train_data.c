/* fuzz_train_data: the training data index (train/data.h) on arbitrary frame
 * streams: the job rules over the frame reader. Every input must be either
 * indexed or refused with a message; an index must be consistent (every job in
 * one bucket of its shape, offsets increasing, frame counts adding up). The
 * model it checks against takes 2 latent channels and text 4 wide. Seeds are
 * small streams of jobs (fuzz/seeds/fuzz_train_data). */
#include "train/data.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct od_train_data_opts o = { .channels = 2, .text_dim = 4 };
	struct od_train_source s;
	int rc = od_train_data_index_mem(&s, data, size, "fuzz", &o);
	if (rc < 0) {
		if (!od_errmsg()[0])
			abort();
		return 0;
	}
	if (s.n_jobs < 1)
		abort();
	int in_buckets = 0;
	for (int k = 0; k < s.n_buckets; k++) {
		const struct od_train_bucket *b = &s.buckets[k];
		in_buckets += b->n;
		for (int i = 0; i < b->n; i++) {
			const struct od_train_job_ref *j = &s.jobs[b->jobs[i]];
			if (j->bucket != k || j->F != b->F || j->h != b->h || j->w != b->w)
				abort();
		}
	}
	if (in_buckets != s.n_jobs)
		abort();
	for (int i = 0; i < s.n_jobs; i++) {
		const struct od_train_job_ref *j = &s.jobs[i];
		if (j->F < 1 || j->n_frames < j->F + 1 || j->S < 1 || j->offset < 0 || (size_t)j->offset >= size ||
		    (i && (j->offset <= s.jobs[i - 1].offset || j->first_frame < s.jobs[i - 1].first_frame + s.jobs[i - 1].n_frames)))
			abort();
	}
	od_train_source_free(&s);
	return 0;
}
