/*
 * test_checkpoint.c: checkpoint folders (checkpoint.h): sharded weights with a
 * *.safetensors.index.json, weight variants, and clear errors for broken
 * indexes. The tiny transformer is re-saved as two shards and must resolve to
 * the same tensors as the single file.
 */
#include "od.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmp[512];

static int write_text(const char *dir, const char *name, const char *text)
{
	char *p = od_path_join(dir, name);
	struct od_out o;
	int rc = od_out_open(&o, p);
	if (!rc)
		rc = od_out_write(&o, text, strlen(text));
	if (!rc)
		rc = od_out_commit(&o);
	free(p);
	return rc;
}

/* Write the tensors of st with index % 2 == part into dir/name. */
static int write_shard(const struct od_safetensors *st, const char *dir, const char *name, int part)
{
	struct od_st_writer *w = od_st_writer_new();
	for (int i = part; i < st->n_tensors; i += 2)
		od_st_writer_add(w, st->tensors[i].name, st->tensors[i].dtype, st->tensors[i].ndim, st->tensors[i].shape,
				 st->tensors[i].data);
	char *p = od_path_join(dir, name);
	struct od_out o;
	int rc = od_out_open(&o, p);
	if (!rc)
		rc = od_st_writer_write(w, &o, NULL, NULL);
	if (!rc)
		rc = od_out_commit(&o);
	free(p);
	od_st_writer_free(w);
	return rc;
}

int main(void)
{
	const char *model = getenv("OD_MODEL");
	const char *t = getenv("TMPDIR");
	if (!model) {
		printf("1..0 # SKIP OD_MODEL is not set (run through make check)\n");
		return 0;
	}
	snprintf(tmp, sizeof tmp, "%s/od-test-ckpt.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(tmp))
		return 1;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/transformer", tmp);
	mkdir(dir, 0777);

	struct od_component single;
	ok(od_component_open(&single, model, "transformer", "config.json", 1, NULL) == OD_OK, "open the single file");
	struct od_nextdit_config cfg;
	od_nextdit_config_parse(single.config, &cfg, "transformer/config.json");
	const struct od_safetensors *st = &single.files[0];

	/* two shards and their index, as transformers/diffusers write them */
	char cfgpath[700];
	snprintf(cfgpath, sizeof cfgpath, "%s/config.json", single.dir);
	char *cfgtext;
	size_t cfglen;
	od_read_file(cfgpath, 1 << 20, &cfgtext, &cfglen);
	write_text(dir, "config.json", cfgtext);
	free(cfgtext);
	write_shard(st, dir, "diffusion_pytorch_model-00001-of-00002.safetensors", 0);
	write_shard(st, dir, "diffusion_pytorch_model-00002-of-00002.safetensors", 1);
	json_t *idx = json_object(), *map = json_object();
	for (int i = 0; i < st->n_tensors; i++)
		json_object_set_new(map, st->tensors[i].name,
				    json_string(i % 2 ? "diffusion_pytorch_model-00002-of-00002.safetensors"
						      : "diffusion_pytorch_model-00001-of-00002.safetensors"));
	json_object_set_new(idx, "metadata", json_pack("{s:i}", "total_size", 1));
	json_object_set_new(idx, "weight_map", map);
	char *js = json_dumps(idx, JSON_INDENT(2));
	write_text(dir, "diffusion_pytorch_model.safetensors.index.json", js);
	free(js);

	struct od_component sharded;
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, NULL) == OD_OK, "open the shards: %s",
	   od_errmsg());
	ok(sharded.n_files == 2, "two files mapped");
	const struct od_tensor **a, **b;
	int na, nb;
	ok(od_component_resolve(&single, od_nextdit_spec, &cfg, &a, &na) == OD_OK, "single file resolves");
	ok(od_component_resolve(&sharded, od_nextdit_spec, &cfg, &b, &nb) == OD_OK, "shards resolve: %s", od_errmsg());
	int same = na == nb;
	for (int i = 0; same && i < na; i++)
		same = a[i]->nbytes == b[i]->nbytes && !memcmp(a[i]->data, b[i]->data, a[i]->nbytes);
	ok(same, "every tensor is the same from the shards (%d tensors)", na);
	free(a);
	free(b);
	od_component_close(&sharded);

	/* an index naming a tensor its shard lacks */
	json_object_set_new(map, "layers.0.extra.weight", json_string("diffusion_pytorch_model-00001-of-00002.safetensors"));
	js = json_dumps(idx, 0);
	write_text(dir, "diffusion_pytorch_model.safetensors.index.json", js);
	free(js);
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, NULL) == OD_EMODEL &&
		   strstr(od_errmsg(), "'layers.0.extra.weight' is listed but missing"),
	   "a tensor missing from its shard is named: %s", od_errmsg());
	/* an index pointing outside the folder */
	write_text(dir, "diffusion_pytorch_model.safetensors.index.json",
		   "{\"weight_map\": {\"x_embedder.weight\": \"../../etc/passwd\"}}");
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, NULL) == OD_EMODEL &&
		   strstr(od_errmsg(), "leaves the folder"),
	   "a shard path leaving the folder is refused: %s", od_errmsg());
	write_text(dir, "diffusion_pytorch_model.safetensors.index.json", "{\"weight_map\": [1]}");
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, NULL) == OD_EMODEL &&
		   strstr(od_errmsg(), "weight_map"),
	   "a malformed index is refused: %s", od_errmsg());
	json_decref(idx);

	/* variants: the plain file unless one is asked for */
	char *p = od_path_join(dir, "diffusion_pytorch_model.safetensors.index.json");
	remove(p);
	free(p);
	write_shard(st, dir, "diffusion_pytorch_model.safetensors", 0);
	write_shard(st, dir, "diffusion_pytorch_model.fp16.safetensors", 1);
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, NULL) == OD_OK &&
		   od_component_find(&sharded, st->tensors[0].name) && !od_component_find(&sharded, st->tensors[1].name),
	   "with two variants the plain file is used");
	od_component_close(&sharded);
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, "fp16") == OD_OK &&
		   od_component_find(&sharded, st->tensors[1].name) && !od_component_find(&sharded, st->tensors[0].name),
	   "the fp16 variant when asked for");
	od_component_close(&sharded);
	ok(od_component_open(&sharded, tmp, "transformer", "config.json", 1, "int8") == OD_EMODEL &&
		   strstr(od_errmsg(), "no weights for variant 'int8'"),
	   "a missing variant is named");

	od_component_close(&single);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		ok(0, "clean up");
	return tap_done();
}
