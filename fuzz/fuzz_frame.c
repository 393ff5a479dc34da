/* fuzz_frame: the frame stream reader (frame.h) on arbitrary bytes. Every
 * input must be either read as frames or refused with an error; the frames
 * read must write back and re-read identically. */
#include "formats/frame.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_reader r;
	od_reader_open_mem(&r, data, size, "fuzz");
	r.max_bytes = 1 << 20; /* keep allocations small; the limit itself is under test */
	struct od_frame f;
	int rc;
	while ((rc = od_reader_next(&r, &f)) > 0) {
		/* a frame that was accepted is valid: it must survive a round trip */
		int p[2];
		if (pipe(p) == 0) {
			struct od_out o = { .fd = p[1], .label = "pipe" };
			size_t total = OD_FRAME_HEADER + f.data_len + f.mask_len;
			for (int i = 0; i < f.n_meta; i++)
				total += strlen(f.meta[i].key) + strlen(f.meta[i].value) + 2;
			if (total < 60000) { /* fits the pipe buffer without a reader */
				if (od_frame_write(&o, &f) != OD_OK)
					abort();
				close(p[1]);
				uint8_t *buf = malloc(total);
				size_t got = 0;
				ssize_t k;
				while (got < total && (k = read(p[0], buf + got, total - got)) > 0)
					got += (size_t)k;
				struct od_reader r2;
				struct od_frame g;
				od_reader_open_mem(&r2, buf, got, "again");
				if (od_reader_next(&r2, &g) != 1 || g.data_len != f.data_len || g.n_meta != f.n_meta ||
				    (f.data && memcmp(f.data, g.data, f.data_len)))
					abort();
				od_frame_free(&g);
				od_reader_close(&r2);
				free(buf);
			} else {
				close(p[1]);
			}
			close(p[0]);
		}
		od_frame_free(&f);
	}
	if (rc < 0 && !od_errmsg()[0])
		abort(); /* every refusal says why */
	od_reader_close(&r);
	return 0;
}
