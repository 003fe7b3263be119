/* Test tool: parse init-data documents with cvmboot's reader and print one
 * JSON line per file: {"version","algorithm","digest","data":{...}}, or
 * {"error": message, "code": exit code}. Lets test_init_data_tomllib.py
 * compare the reader with tomllib over many documents in one process. */
#include <stdio.h>
#include <stdlib.h>

#include "hex.h"
#include "init_data.h"

static json_t *dump(const char *path)
{
	struct init_data *d = NULL;
	struct err e = { 0 };
	json_t *out, *data;
	char *digest;

	if (init_data_load(path, &d, &e))
		return json_pack("{s:s, s:i}", "error", e.msg, "code", e.code);
	data = json_object();
	for (int i = 0; i < d->n_entries; i++)
		json_object_set_new(data, d->entries[i].key, json_string(d->entries[i].value));
	digest = hex_encode(d->digest, d->digest_len);
	out = json_pack("{s:s, s:s, s:s, s:o}", "version", d->version, "algorithm",
			init_data_alg_name(d->alg), "digest", digest, "data", data);
	free(digest);
	init_data_free(d);
	return out;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: init_data_dump FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		json_t *out = dump(argv[i]);

		if (!out || json_dumpf(out, stdout, JSON_COMPACT | JSON_SORT_KEYS) < 0)
			return 1;
		putchar('\n');
		json_decref(out);
	}
	return 0;
}
