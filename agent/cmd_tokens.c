/* The provisioning helpers: `cvmboot tokens` (a volume's cvmboot tokens and
 * active keyslots, as text or JSON), `cvmboot disenroll` (remove the cvmboot
 * token and its keyslot) and `cvmboot check-config` (parse, validate, say). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "luks.h"
#include "resource_path.h"

static const char tokens_usage[] = "usage: cvmboot tokens DEVICE [--json]";
static const char disenroll_usage[] = "usage: cvmboot disenroll DEVICE [--resource PATH]";

/* "DEVICE [--NAME[ VALUE]]": optind is left at DEVICE; *value is the option's
 * value, or "" for a flag given, NULL when absent. -1 (usage logged) if bad. */
static int device_and_option(int argc, char **argv, const char *name, bool has_value,
			     const char **value, const char *usage)
{
	const struct option options[] = {
		{ name, has_value ? required_argument : no_argument, NULL, 'o' },
		{ 0 },
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt != 'o')
			goto usage;
		*value = has_value ? optarg : "";
	}
	if (optind == argc - 1)
		return 0;
usage:
	log_error("%s", usage);
	return -1;
}

static json_t *token_json(const struct luks_token_entry *t)
{
	json_t *urls, *obj = json_pack("{s:i}", "token", t->info.token_id);

	if (!obj)
		return NULL;
	if (!t->valid) {
		json_object_set_new(obj, "error", json_string(t->error));
		return obj;
	}
	urls = json_array();
	for (int i = 0; urls && i < t->info.n_urls; i++)
		json_array_append_new(urls, json_string(t->info.urls[i]));
	json_object_set_new(obj, "keyslot", json_integer(t->info.keyslot));
	json_object_set_new(obj, "resource", json_string(t->info.resource));
	json_object_set_new(obj, "kbs_urls", urls ? urls : json_array());
	return obj;
}

static int print_json(const char *device, const struct luks_token_list *list)
{
	json_t *slots = json_array(), *tokens = json_array(), *root;
	char *text;

	for (int i = 0; slots && i < list->n_keyslots; i++)
		json_array_append_new(slots, json_integer(list->keyslots[i]));
	for (int i = 0; tokens && i < list->n_tokens; i++)
		json_array_append_new(tokens, token_json(&list->tokens[i]));
	root = json_pack("{s:s, s:s, s:o*, s:o*}", "device", device, "uuid", list->uuid,
			 "keyslots", slots, "tokens", tokens);
	text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	if (!text)
		return -1;
	puts(text);
	free(text);
	return 0;
}

static void print_text(const char *device, const struct luks_token_list *list)
{
	printf("%s: LUKS2 %s, active keyslots:", device, list->uuid);
	for (int i = 0; i < list->n_keyslots; i++)
		printf(" %d", list->keyslots[i]);
	printf("\n");
	if (list->n_tokens == 0)
		printf("no cvmboot token\n");
	for (int i = 0; i < list->n_tokens; i++) {
		const struct luks_token_entry *t = &list->tokens[i];

		if (t->valid)
			printf("token %d: keyslot %d, resource %s, %d KBS URL(s)\n", t->info.token_id,
			       t->info.keyslot, t->info.resource, t->info.n_urls);
		else
			printf("token %d: INVALID: %s\n", t->info.token_id, t->error);
	}
}

int cmd_tokens(struct config *cfg, int argc, char **argv)
{
	struct luks_token_list *list = NULL;
	char device[CFG_PATH_MAX];
	struct err e = { 0 };
	const char *json = NULL;
	int rc = 0;

	(void)cfg;
	if (device_and_option(argc, argv, "json", false, &json, tokens_usage))
		return CVM_E_USAGE;
	if (luks_wait_device(argv[optind], 0, device, sizeof(device), &e) ||
	    luks_list_tokens(device, &list, &e)) {
		log_error("tokens %s: %s", argv[optind], e.msg);
		return e.code;
	}
	if (!json)
		print_text(device, list);
	else if (print_json(device, list) != 0)
		rc = CVM_E_INTERNAL;
	free(list);
	if (rc)
		log_error("tokens %s: out of memory", argv[optind]);
	return rc;
}

int cmd_disenroll(struct config *cfg, int argc, char **argv)
{
	const char *resource = NULL;
	char device[CFG_PATH_MAX];
	struct luks_token_info removed;
	struct err e = { 0 };
	int rc;

	(void)cfg;
	if (device_and_option(argc, argv, "resource", true, &resource, disenroll_usage))
		return CVM_E_USAGE;
	if (resource && !resource_path_valid(resource)) {
		log_error("invalid resource path '%.256s': expected REPOSITORY/TYPE/TAG", resource);
		return CVM_E_USAGE;
	}
	if (luks_wait_device(argv[optind], 0, device, sizeof(device), &e)) {
		log_error("disenroll %s: %s", argv[optind], e.msg);
		return e.code;
	}
	rc = luks_disenroll(device, resource, &removed, &e);
	if (rc == 1) {
		printf("%s has no cvmboot token: nothing to remove\n", device);
		return 0;
	}
	if (rc) {
		log_error("disenroll %s: %s", argv[optind], e.msg);
		return e.code;
	}
	printf("removed token %d and keyslot %d (resource %s) from %s\n", removed.token_id,
	       removed.keyslot, removed.resource, device);
	return 0;
}

int cmd_check_config(struct config *cfg, int argc, char **argv)
{
	int luks = 0;

	(void)argv;
	if (argc != 1) {
		log_error("usage: cvmboot check-config");
		return CVM_E_USAGE;
	}
	for (int i = 0; i < cfg->n_resources; i++)
		luks += cfg->resources[i].kind == RESOURCE_LUKS;
	printf("configuration valid: %d KBS URL(s), %d resource(s) (%d LUKS2 key(s), %d "
	       "file(s))\n", cfg->n_urls, cfg->n_resources, luks, cfg->n_resources - luks);
	return 0;
}
