/* The signed-image gate's files: policy.json, the public key and the
 * registries.d entry for podman pull, under run_dir/image-policy/. */
#include "image_policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"

#define GPG_ARMOR "-----BEGIN PGP PUBLIC KEY BLOCK-----"
#define GPG_ARMOR_PRIVATE "-----BEGIN PGP PRIVATE KEY BLOCK-----"
#define PEM_PUBLIC "-----BEGIN PUBLIC KEY-----"
#define REF_MAX 255

static bool starts_with(const unsigned char *data, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(data, prefix, n) == 0;
}

/* Whether a PEM label names a private key ("-----BEGIN ... PRIVATE KEY-----"). */
static bool has_private_pem(const unsigned char *data, size_t len)
{
	static const char needle[] = "PRIVATE KEY-----";
	size_t n = sizeof(needle) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(data + i, needle, n) == 0)
			return true;
	return false;
}

/* Skip leading blanks and newlines a KBS resource may carry. */
static size_t leading_space(const unsigned char *data, size_t len)
{
	size_t i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i;
}

int image_policy_key_type(const unsigned char *data, size_t len, enum image_key_type *type,
			  struct err *e)
{
	size_t skip;

	if (!data || len == 0)
		return err_set(e, CVM_E_CONFIG, "signing key is empty");
	if (len > IMAGE_POLICY_KEY_MAX)
		return err_set(e, CVM_E_CONFIG, "signing key too large (%zu bytes, at most %d)", len,
			       IMAGE_POLICY_KEY_MAX);
	/* binary OpenPGP: a public-key packet, old format (tag 6: 0x98-0x9a)
	 * or new format (0xc6) */
	if (data[0] == 0x98 || data[0] == 0x99 || data[0] == 0x9a || data[0] == 0xc6) {
		*type = IMAGE_KEY_GPG;
		return 0;
	}
	if (data[0] == 0x94 || data[0] == 0x95 || data[0] == 0x96 || data[0] == 0xc5 ||
	    has_private_pem(data, len))
		return err_set(e, CVM_E_CONFIG, "signing key is a private key; the KBS must "
			       "release the public key only");
	skip = leading_space(data, len);
	if (starts_with(data + skip, len - skip, GPG_ARMOR)) {
		*type = IMAGE_KEY_GPG;
		return 0;
	}
	if (starts_with(data + skip, len - skip, PEM_PUBLIC)) {
		*type = IMAGE_KEY_SIGSTORE;
		return 0;
	}
	if (starts_with(data + skip, len - skip, GPG_ARMOR_PRIVATE))
		return err_set(e, CVM_E_CONFIG, "signing key is a private key; the KBS must "
			       "release the public key only");
	return err_set(e, CVM_E_CONFIG, "signing key is neither an OpenPGP public key (binary or "
		       "'" GPG_ARMOR "') nor a PEM public key ('" PEM_PUBLIC "')");
}

static bool ref_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@';
}

__attribute__((format(printf, 3, 4)))
static int why_set(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

int image_policy_check_ref(const char *ref, char *why, size_t why_len)
{
	size_t n = strlen(ref), host_len = strcspn(ref, "/");
	const char *at = strchr(ref, '@');

	if (n == 0)
		return why_set(why, why_len, "no [workload] image to scope the signature policy");
	if (n > REF_MAX)
		return why_set(why, why_len, "image reference longer than %d bytes", REF_MAX);
	for (const char *p = ref; *p; p++)
		if (!ref_char(*p))
			return why_set(why, why_len, "image reference '%.80s' holds a character "
				       "other than [A-Za-z0-9._:/@-]", ref);
	if (ref[0] == '/' || ref[n - 1] == '/' || strstr(ref, "//") || ref[n - 1] == ':' ||
	    ref[n - 1] == '@' || (at && strchr(at + 1, '@')))
		return why_set(why, why_len, "image reference '%.80s' is malformed", ref);
	if (ref[host_len] != '/' ||
	    (!memchr(ref, '.', host_len) && !memchr(ref, ':', host_len) &&
	     !(host_len == 9 && !strncmp(ref, "localhost", 9))))
		return why_set(why, why_len, "image reference '%.80s' is not fully qualified "
			       "(REGISTRY/REPOSITORY[:TAG|@DIGEST]); a signature policy "
			       "cannot scope a short name", ref);
	if (host_len == 9 && !strncmp(ref, "docker.io", 9) && !strchr(ref + 10, '/'))
		return why_set(why, why_len, "image reference '%.80s': write docker.io/library/NAME "
			       "(the policy scope must be the normalized name)", ref);
	return 0;
}

/* The repository of a reference: without its :TAG or @DIGEST. */
static void repository_of(const char *ref, char *out, size_t size)
{
	size_t n = strcspn(ref, "@");
	const char *slash, *colon;

	snprintf(out, size, "%.*s", (int)n, ref);
	slash = strrchr(out, '/');
	colon = strrchr(out, ':');
	if (slash && colon && colon > slash)
		*(char *)colon = '\0';
}

/* The policy.json document: reject by default; image's repository only
 * when signed by the key, and (podman's default signedIdentity,
 * matchRepoDigestOrExact) for the very tag or digest pulled. */
char *image_policy_json(const char *image, const char *key_path, enum image_key_type type,
			struct err *e)
{
	json_t *req, *doc;
	char repo[REF_MAX + 1], why[256], *text, *out = NULL;

	if (image_policy_check_ref(image, why, sizeof(why)) < 0) {
		err_set(e, CVM_E_CONFIG, "%s", why);
		return NULL;
	}
	if (type == IMAGE_KEY_GPG)
		req = json_pack("{s:s, s:s, s:s}", "type", "signedBy", "keyType", "GPGKeys", "keyPath",
				key_path);
	else
		req = json_pack("{s:s, s:s}", "type", "sigstoreSigned", "keyPath", key_path);
	repository_of(image, repo, sizeof(repo));
	doc = req ? json_pack("{s:[{s:s}], s:{s:{s:[o]}}}", "default", "type", "reject",
			      "transports", "docker", repo, req) : NULL;
	text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (text && asprintf(&out, "%s\n", text) < 0)
		out = NULL;
	free(text);
	if (!out)
		err_set(e, CVM_E_INTERNAL, "cannot build policy.json");
	return out;
}

char *image_policy_registries_yaml(const char *image, const char *lookaside,
				   enum image_key_type type, struct err *e)
{
	char repo[REF_MAX + 1], why[256], *url = NULL, *out = NULL;
	json_t *s;

	if (image_policy_check_ref(image, why, sizeof(why)) < 0) {
		err_set(e, CVM_E_CONFIG, "%s", why);
		return NULL;
	}
	if (type == IMAGE_KEY_GPG && !lookaside[0])
		return NULL;
	repository_of(image, repo, sizeof(repo));
	/* a JSON string is a YAML double-quoted scalar: the URL's escaping */
	s = json_string(lookaside);
	url = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	if (url && asprintf(&out, "docker:\n  %s:\n%s%s%s%s", repo,
			    lookaside[0] ? "    lookaside: " : "", lookaside[0] ? url : "",
			    lookaside[0] ? "\n" : "",
			    type == IMAGE_KEY_SIGSTORE ? "    use-sigstore-attachments: true\n" : "") < 0)
		out = NULL;
	free(url);
	if (!out)
		err_set(e, CVM_E_INTERNAL, "cannot build the registries.d entry");
	return out;
}

static int write_text(const char *dir, const char *name, const char *text, struct err *e)
{
	return secrets_write(dir, name, (const unsigned char *)text, strlen(text), 0644, e);
}

int image_policy_write(const char *run_dir, const char *image, const char *lookaside,
		       const unsigned char *key, size_t key_len, struct err *e)
{
	enum image_key_type type;
	char dir[1024], regdir[1100], key_path[1100];
	const char *key_name;
	char *json = NULL, *yaml = NULL;
	int rc;

	if (image_policy_key_type(key, key_len, &type, e))
		return e->code;
	key_name = type == IMAGE_KEY_GPG ? "signing-key.gpg" : "signing-key.pub";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", run_dir, IMAGE_POLICY_DIR) >= sizeof(dir))
		return err_set(e, CVM_E_CONFIG, "run_dir too long");
	snprintf(regdir, sizeof(regdir), "%s/registries.d", dir);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir, key_name);
	json = image_policy_json(image, key_path, type, e);
	if (!json)
		return e->code;
	yaml = image_policy_registries_yaml(image, lookaside, type, e);
	if (!yaml && e->code) {
		free(json);
		return e->code;
	}
	rc = secrets_mkdir_p(dir, 0755, NULL, e) || secrets_write(dir, key_name, key, key_len, 0644, e) ||
	     (yaml && (secrets_mkdir_p(regdir, 0755, NULL, e) ||
		       write_text(regdir, "cvmboot.yaml", yaml, e))) ||
	     write_text(dir, "policy.json", json, e);
	free(json);
	free(yaml);
	return rc ? e->code : 0;
}
