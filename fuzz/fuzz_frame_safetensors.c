/*
 * fuzz_frame_safetensors: od-frame from-safetensors' import on arbitrary bytes
 * (formats/frame_safetensors.c): the od.frames metadata of a file written by
 * to-safetensors, and the --tensor import of any tensor (with and without
 * --squeeze and --split, with the next tensor as --mask).
 *
 * Every input is either imported or refused with a message. Imported frames
 * are valid frames: they write to a frame stream (which checks shape, mask and
 * metadata again, and refuses NaN or infinity) and read back. abort() on a
 * violation. Seeds (fuzz/seeds/fuzz_frame_safetensors/): to-safetensors
 * output (latent, text with mask, image), a golden-style file with named
 * tensors.
 */
#include "formats/frame_safetensors.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The frames must write and read back (through a pipe when they fit in it). */
static void roundtrip(const struct od_frame *f, int n)
{
	for (int i = 0; i < n; i++) {
		size_t total = OD_FRAME_HEADER + f[i].data_len + f[i].mask_len;
		for (int m = 0; m < f[i].n_meta; m++)
			total += strlen(f[i].meta[m].key) + strlen(f[i].meta[m].value) + 2;
		if (total > 60000)
			continue;
		int p[2];
		if (pipe(p) != 0)
			continue;
		struct od_out o = { .fd = p[1], .label = "pipe" };
		if (od_frame_write(&o, &f[i]) != OD_OK)
			abort();
		close(p[1]);
		struct od_reader r;
		od_reader_open_fd(&r, p[0], "pipe");
		struct od_frame back;
		if (od_reader_next(&r, &back) != 1)
			abort();
		if (back.data_len != f[i].data_len || (f[i].data && memcmp(back.data, f[i].data, f[i].data_len)))
			abort();
		od_frame_free(&back);
		close(p[0]);
		r.fd = -1;
		od_reader_close(&r);
	}
}

static void release(struct od_frame *f, int n)
{
	for (int i = 0; i < n; i++)
		od_frame_free(&f[i]);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_safetensors st = { 0 };
	if (od_st_parse(&st, data, size, "fuzz") != OD_OK)
		return 0;
	struct od_frame *f;
	int n;
	if (od_frames_read_safetensors(&st, &f, &n) == OD_OK) {
		roundtrip(f, n);
		release(f, n);
	} else if (!od_errmsg()[0]) {
		abort();
	}
	static const enum od_role roles[] = { OD_ROLE_CONDITION, OD_ROLE_TARGET };
	for (int t = 0; t < st.n_tensors && t < 4; t++) {
		const char *mask = t + 1 < st.n_tensors ? st.tensors[t + 1].name : NULL;
		for (int mode = 0; mode < 4; mode++) {
			/* small tensors only: the import converts every element */
			if (st.tensors[t].nbytes > (1u << 16))
				break;
			int squeeze = mode & 1, split = mode >> 1;
			if (od_frames_from_tensor(&st, st.tensors[t].name, mode == 3 ? mask : NULL, OD_KIND_LATENT, roles, 2,
						  mode == 2 ? OD_BF16 : OD_F32, squeeze, split, &f, &n) == OD_OK) {
				roundtrip(f, n);
				release(f, n);
			} else if (!od_errmsg()[0]) {
				abort();
			}
		}
	}
	od_st_close(&st);
	return 0;
}
