/* <run_dir>/status.json: what the last run did (names, timings, outcome;
 * never a secret), written atomically with jansson. */
#include "status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secrets.h"

static void copy_cut(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void status_init(struct status *s, const char *command)
{
	memset(s, 0, sizeof(*s));
	copy_cut(s->command, sizeof(s->command), command);
	s->started = (long long)time(NULL);
}

/* Record a phase's duration; a phase named twice keeps its place, new time. */
void status_phase(struct status *s, const char *name, long ms)
{
	for (int i = 0; i < s->n_phases; i++) {
		if (!strcmp(s->phases[i].name, name)) {
			s->phases[i].ms = ms;
			return;
		}
	}
	if (s->n_phases >= STATUS_MAX_PHASES)
		return;
	copy_cut(s->phases[s->n_phases].name, sizeof(s->phases[0].name), name);
	s->phases[s->n_phases++].ms = ms;
}

void status_add_resource(struct status *s, const char *name)
{
	if (s->n_resources < STATUS_MAX_ITEMS)
		copy_cut(s->resources[s->n_resources++], sizeof(s->resources[0]), name);
}

void status_add_volume(struct status *s, const char *device)
{
	if (s->n_volumes < STATUS_MAX_ITEMS)
		copy_cut(s->volumes[s->n_volumes++], sizeof(s->volumes[0]), device);
}

/* A JSON string of s with control and non-ASCII bytes replaced by '?', so
 * that no message, however odd, makes the document invalid. */
static json_t *clean_string(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len + 1);
	json_t *j;

	if (!copy)
		return NULL;
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = (unsigned char)s[i];

		copy[i] = (ch && (ch < 0x20 || ch >= 0x7f)) ? '?' : (char)ch;
	}
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

/* A string, or null when empty. */
static json_t *string_or_null(const char *s)
{
	return s[0] ? clean_string(s) : json_null();
}

static json_t *string_array(const char *base, size_t item_size, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, clean_string(base + (size_t)i * item_size));
	return a;
}

static json_t *phases_object(const struct status *s)
{
	json_t *o = json_object();
	char name[sizeof(s->phases[0].name)];

	for (int i = 0; o && i < s->n_phases; i++) {
		for (size_t j = 0; j < sizeof(name); j++) {
			unsigned char ch = (unsigned char)s->phases[i].name[j];

			name[j] = (ch && (ch < 0x20 || ch >= 0x7f)) ? '?' : (char)ch;
		}
		name[sizeof(name) - 1] = '\0';
		json_object_set_new(o, name, json_integer(s->phases[i].ms));
	}
	return o;
}

static json_t *break_glass_object(const struct status *s)
{
	if (!s->break_glass.recorded)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o}",
			 "register", clean_string(s->break_glass.reg),
			 "event", clean_string(s->break_glass.event),
			 "event_digest", string_or_null(s->break_glass.digest),
			 "kbs_error", string_or_null(s->break_glass.kbs_error));
}

static json_t *status_to_json(const struct status *s)
{
	bool failed = s->exit_code != 0;
	json_t *doc = json_pack("{s:o, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I}",
			 "command", clean_string(s->command),
			 "result", failed ? "failed" : "ok",
			 "exit_code", s->exit_code,
			 "error", failed ? json_string(err_code_name(s->exit_code)) : json_null(),
			 "reason", failed ? string_or_null(s->reason) : json_null(),
			 "tee", string_or_null(s->tee),
			 "kbs_url", string_or_null(s->kbs_url),
			 "token_expiry", s->token_expiry ? json_integer(s->token_expiry) : json_null(),
			 "phases", phases_object(s),
			 "resources", string_array(s->resources[0], sizeof(s->resources[0]), s->n_resources),
			 "volumes", string_array(s->volumes[0], sizeof(s->volumes[0]), s->n_volumes),
			 "sealed", string_or_null(s->sealed),
			 "started", (json_int_t)s->started,
			 "finished", (json_int_t)time(NULL));

	if (doc && (json_object_set_new(doc, "unlock", string_or_null(s->unlock)) ||
		    json_object_set_new(doc, "break_glass", break_glass_object(s)))) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* The document as text with a trailing newline; NULL on failure. */
static char *status_text(const struct status *s, size_t *len)
{
	json_t *doc = status_to_json(s);
	char *text = doc ? json_dumps(doc, JSON_PRESERVE_ORDER | JSON_INDENT(2)) : NULL;
	char *with_nl;

	json_decref(doc);
	if (!text)
		return NULL;
	*len = strlen(text);
	with_nl = realloc(text, *len + 2);
	if (!with_nl) {
		free(text);
		return NULL;
	}
	with_nl[(*len)++] = '\n';
	with_nl[*len] = '\0';
	return with_nl;
}

int status_write(const struct status *s, const char *run_dir, struct err *e)
{
	size_t len = 0;
	char *text;
	int rc;

	if (secrets_mkdir_p(run_dir, 0755, NULL, e))
		return err_wrap(e, "status.json");
	text = status_text(s, &len);
	if (!text)
		return err_set(e, CVM_E_INTERNAL, "status.json: cannot build the JSON document");
	rc = secrets_write(run_dir, "status.json", (const unsigned char *)text, len, 0644, e);
	free(text);
	return rc;
}
