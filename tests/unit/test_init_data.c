/* Unit tests for agent/init_data*.c: the strict TOML subset reader (what it
 * accepts, each refusal with its line), digests over the exact text, the
 * TEE field padding, and the cvmboot.* settings a document may carry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "hex.h"
#include "init_data.h"

static char tmpdir[] = "/tmp/cvmboot-test-init-data-XXXXXX";

static const char *write_file(const char *name, const char *content, size_t len)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fwrite(content, 1, len, f) != len) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return path;
}

/* Parse text; NULL (and e set) when refused. */
static struct init_data *parse(const char *text, size_t len, struct err *e)
{
	struct init_data *d = calloc(1, sizeof(*d));

	d->body = malloc(len + 1);
	memcpy(d->body, text, len);
	d->body[len] = '\0';
	d->body_len = len;
	memset(e, 0, sizeof(*e));
	if (init_data_parse(d, "doc.toml", e)) {
		init_data_free(d);
		return NULL;
	}
	return d;
}

#define HEAD "version = \"0.1.0\"\nalgorithm = \"sha384\"\n"

static void test_accepts(void)
{
	static const char doc[] =
		"# deploy-time settings\n"
		"algorithm = 'sha384'   # literal string\n"
		"\"version\" = \"0.1.0\"\r\n"
		"\n"
		"[ data ]\n"
		"plain = \"a\\tb\\u00e9\\U0001F600\\\\\\\"\"\n"
		"'literal key' = 'C:\\path'\n"
		"\"policy.rego\" = '''\n"
		"package agent_policy\n"
		"default allow := false'''\n"
		"quotes = ''''x'''''\n"
		"joined = \"\"\"\n"
		"one \\\n"
		"    two\"\"\"\n"
		"empty = \"\"\n";
	struct err e;
	struct init_data *d = parse(doc, sizeof(doc) - 1, &e);

	CHECK(d, "refused: %s", e.msg);
	if (!d)
		return;
	CHECK(!strcmp(d->version, "0.1.0") && d->alg == INIT_DATA_SHA384, "%s %d", d->version, d->alg);
	CHECK(d->n_entries == 6, "%d entries", d->n_entries);
	CHECK(!strcmp(init_data_get(d, "plain"), "a\tb\xc3\xa9\xf0\x9f\x98\x80\\\""), "plain");
	CHECK(!strcmp(init_data_get(d, "literal key"), "C:\\path"), "literal");
	CHECK(!strcmp(init_data_get(d, "policy.rego"), "package agent_policy\ndefault allow := false"),
	      "multi-line literal: [%s]", init_data_get(d, "policy.rego"));
	CHECK(!strcmp(init_data_get(d, "quotes"), "'x''"), "quotes: [%s]", init_data_get(d, "quotes"));
	CHECK(!strcmp(init_data_get(d, "joined"), "one two"), "joined: [%s]", init_data_get(d, "joined"));
	CHECK(!strcmp(init_data_get(d, "empty"), ""), "empty");
	CHECK(d->entries[1].line == 7, "line of 'literal key': %d", d->entries[1].line);
	init_data_free(d);

	d = parse(HEAD "[data]\n", sizeof(HEAD "[data]\n") - 1, &e);
	CHECK(d && d->n_entries == 0, "empty [data]: %s", e.msg);
	init_data_free(d);
}

struct bad {
	const char *text, *want;
};

static void test_refuses(void)
{
	static const struct bad cases[] = {
		{ "algorithm = \"sha384\"\n[data]\n", "doc.toml: no 'version'" },
		{ "version = \"0.1.0\"\n[data]\n", "doc.toml: no 'algorithm'" },
		{ HEAD, "doc.toml: no [data] table" },
		{ "version = \"0.2.0\"\n", "doc.toml:1: version must be \"0.1.0\"" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha-256\"\n", "doc.toml:2: algorithm must be" },
		{ "version = \"0.1.0\"\nalgorithm = \"sm3\"\n", "doc.toml:2: algorithm must be" },
		{ HEAD "version = \"0.1.0\"\n", "doc.toml:3: duplicate key 'version'" },
		{ HEAD "extra = \"x\"\n[data]\n", "doc.toml:3: unknown key 'extra'" },
		{ HEAD "[data]\nn = 1\n", "doc.toml:4: the value must be a string" },
		{ HEAD "[data]\nb = true\n", "doc.toml:4: the value must be a string" },
		{ HEAD "[data]\na = [\"x\"]\n", "doc.toml:4: the value must be a string" },
		{ HEAD "[data]\nt = { x = \"y\" }\n", "doc.toml:4: the value must be a string" },
		{ HEAD "[data]\na.b = \"x\"\n", "doc.toml:4: dotted keys" },
		{ HEAD "[data]\nk = \"x\"\nk = \"y\"\n", "doc.toml:5: [data] duplicate key 'k'" },
		{ HEAD "[data]\n'k' = \"x\"\n\"k\" = \"y\"\n", "doc.toml:5: [data] duplicate key 'k'" },
		{ HEAD "[data]\n[data]\n", "doc.toml:4: duplicate [data] table" },
		{ HEAD "[other]\n", "doc.toml:3: unknown table" },
		{ HEAD "[data.sub]\n", "doc.toml:3: dotted keys" },
		{ HEAD "[[data]]\n", "doc.toml:3: arrays of tables" },
		{ HEAD "[data\n", "doc.toml:3: expected ']'" },
		{ HEAD "[data]\nk = \"open\n", "doc.toml:4: newline in a single-line string" },
		{ HEAD "[data]\nk = '''never closed\n", "doc.toml:5: unterminated string" },
		{ HEAD "[data]\nk = \"\\q\"\n", "doc.toml:4: unknown escape" },
		{ HEAD "[data]\nk = \"\\uD800\"\n", "doc.toml:4: \\u escape is not a Unicode scalar" },
		{ HEAD "[data]\nk = \"\\u12\"\n", "doc.toml:4: bad hex digit" },
		{ HEAD "[data]\nk = \"\\u0000\"\n", "doc.toml:4: NUL character" },
		{ HEAD "[data]\nk = \"a\x01\"\n", "doc.toml:4: control character in a string" },
		{ HEAD "[data]\nk = \"x\" y\n", "doc.toml:4: unexpected text after the value" },
		{ HEAD "[data]\nk \"x\"\n", "doc.toml:4: expected '='" },
		{ HEAD "[data]\n= \"x\"\n", "doc.toml:4: expected a key" },
		{ HEAD "[data]\n\"\"\"k\"\"\" = \"x\"\n", "doc.toml:4: a key cannot be a multi-line" },
		{ HEAD "[data]\nk = '''x''''''\n", "doc.toml:4: too many quotes" },
		{ HEAD "[data]\nk = \"x\" # bell \x07\n", "doc.toml:4: control character in a comment" },
		{ HEAD "[data]\nk = \"\xc3\x28\"\n", "doc.toml:4: not valid UTF-8" },
		{ HEAD "[data]\nk = \"\xed\xa0\x80\"\n", "doc.toml:4: not valid UTF-8" },
		{ HEAD "[data]\nk = \"\xc0\xaf\"\n", "doc.toml:4: not valid UTF-8" },
		{ HEAD "[data]\r\nk = \"x\"\r\r\n", "doc.toml:4: carriage return" },
		{ "\xEF\xBB\xBF" HEAD "[data]\n", "doc.toml:1: byte-order mark" },
	};
	struct err e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct init_data *d = parse(cases[i].text, strlen(cases[i].text), &e);

		CHECK(!d, "case %zu accepted: %s", i, cases[i].text);
		CHECK(d || (e.code == CVM_E_CONFIG && strstr(e.msg, cases[i].want)),
		      "case %zu: got '%s', want '%s'", i, e.msg, cases[i].want);
		init_data_free(d);
	}
	/* A NUL byte in the file (not expressible in the table above). */
	{
		static const char nul[] = HEAD "[data]\nk = \"a\0b\"\n";
		struct init_data *d = parse(nul, sizeof(nul) - 1, &e);

		CHECK(!d && strstr(e.msg, "doc.toml:4: NUL byte"), "NUL: %s", e.msg);
		init_data_free(d);
	}
	/* 65 entries */
	{
		char *big = malloc(65 * 32 + 100);
		size_t n = (size_t)sprintf(big, HEAD "[data]\n");
		struct init_data *d;

		for (int i = 0; i < 65; i++)
			n += (size_t)sprintf(big + n, "k%d = \"v\"\n", i);
		d = parse(big, n, &e);
		CHECK(!d && strstr(e.msg, "doc.toml:68: [data] more than 64 entries"), "%s", e.msg);
		init_data_free(d);
		free(big);
	}
}

static void test_digests(void)
{
	static const char *const want[] = {
		"485bedce55c36689bd103cb88c8e43ddde6d8d4b22e2fd83f3eac84653f42e68",
		"8c8b1308a0749706f0bc4aa2d19a7609e311829c4a350d49d9b03c35f7e40d765d7696104f5126e77304834ed1859b4c",
		"0a9fb81e59eeb025d39037efccdd2091cf0b70213c1a03a866b5c7694ffae975878165e45987ef69f6b44f069e1477a99275599481dabc30c9a4ea1d67fa7b11",
	};
	static const char *const algs[] = { "sha256", "sha384", "sha512" };
	unsigned char field[64];
	struct err e = { 0 };

	for (int i = 0; i < 3; i++) {
		char text[128], *hex;
		struct init_data *d = NULL;
		int n = snprintf(text, sizeof(text),
				 "version = \"0.1.0\"\nalgorithm = \"%s\"\n[data]\nk = \"v\"\n", algs[i]);
		const char *path = write_file("digest.toml", text, (size_t)n);

		CHECK(init_data_load(path, &d, &e) == 0, "%s: %s", algs[i], e.msg);
		if (!d)
			continue;
		hex = hex_encode(d->digest, d->digest_len);
		CHECK(!strcmp(hex, want[i]), "%s digest %s", algs[i], hex);
		free(hex);
		/* SNP HOST_DATA (32): cut; TDX MRCONFIGID (48): zero-padded or cut. */
		init_data_field(d, field, 32);
		CHECK(!memcmp(field, d->digest, 32), "32-byte field");
		memset(field, 0xAA, sizeof(field));
		init_data_field(d, field, 48);
		CHECK(!memcmp(field, d->digest, d->digest_len < 48 ? d->digest_len : 48) &&
		      (d->digest_len >= 48 || (field[32] == 0 && field[47] == 0)), "48-byte field");
		init_data_free(d);
	}
}

static void test_load_limits(void)
{
	struct init_data *d = NULL;
	struct err e = { 0 };
	char *big = malloc(INIT_DATA_FILE_MAX + 2);
	const char *path;

	memset(big, '#', INIT_DATA_FILE_MAX + 1);
	path = write_file("big.toml", big, INIT_DATA_FILE_MAX + 1);
	CHECK(init_data_load(path, &d, &e) && strstr(e.msg, "not a regular file of 1 to 65536 bytes"),
	      "big: %s", e.msg);
	path = write_file("empty.toml", "", 0);
	CHECK(init_data_load(path, &d, &e) && strstr(e.msg, "empty.toml: not a regular file"),
	      "empty: %s", e.msg);
	CHECK(init_data_load(tmpdir, &d, &e) && strstr(e.msg, "not a regular file"), "dir: %s", e.msg);
	CHECK(init_data_load("/nonexistent/x.toml", &d, &e) && strstr(e.msg, "cannot open"),
	      "missing: %s", e.msg);
	CHECK(!d, "no document on failure");
	free(big);
}

/* config_apply_init_data with a document of [data] lines extra. */
static int apply(struct config *c, const char *extra, struct err *e)
{
	char text[4096];
	int n = snprintf(text, sizeof(text), "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n%s",
			 extra);

	snprintf(c->init_data, sizeof(c->init_data), "%s", write_file("settings.toml", text, (size_t)n));
	memset(e, 0, sizeof(*e));
	return config_apply_init_data(c, e);
}

static void test_settings(void)
{
	static const char ca[] = "\"cvmboot.ca\" = '''\n-----BEGIN CERTIFICATE-----\nMIIB\n"
				 "-----END CERTIFICATE-----\n'''\n";
	static struct config c;
	struct err e;
	char path[600];

	config_defaults(&c);
	snprintf(c.run_dir, sizeof(c.run_dir), "%s/run", tmpdir);
	strcpy(c.urls[0], "https://kbs.from-file:8080");
	c.n_urls = 1;
	strcpy(c.ca_file, "/etc/cvmboot/kbs-ca.pem");

	CHECK(apply(&c, "other = \"for another consumer\"\n", &e) == 0 && c.init_doc, "%s", e.msg);
	CHECK(c.n_urls == 1 && !strcmp(c.urls[0], "https://kbs.from-file:8080"), "url untouched");

	CHECK(apply(&c, "\"cvmboot.url\" = \"https://a.example/ \\n https://b.example:9\"\n", &e) == 0,
	      "%s", e.msg);
	CHECK(c.n_urls == 2 && !strcmp(c.urls[0], "https://a.example") &&
	      !strcmp(c.urls[1], "https://b.example:9"), "urls %d %s", c.n_urls, c.urls[0]);
	CHECK(!strcmp(c.ca_file, "/etc/cvmboot/kbs-ca.pem"), "ca untouched");

	CHECK(apply(&c, "\"cvmboot.url\" = \"ftp://x\"\n", &e) == CVM_E_CONFIG &&
	      strstr(e.msg, "settings.toml:4: [data]: cvmboot.url"), "bad url: %s", e.msg);
	CHECK(apply(&c, "\"cvmboot.url\" = \" \"\n", &e) == CVM_E_CONFIG && strstr(e.msg, "no URL"),
	      "no url: %s", e.msg);
	CHECK(apply(&c, "\"cvmboot.insecure_http\" = \"true\"\n", &e) == CVM_E_CONFIG &&
	      strstr(e.msg, "settings.toml:4: [data]: unknown setting 'cvmboot.insecure_http'"),
	      "insecure_http: %s", e.msg);
	CHECK(apply(&c, "\"cvmboot.url\" = \"http://plain.example\"\n", &e) == 0, "%s", e.msg);
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG, "http:// from init-data without insecure_http");

	CHECK(apply(&c, ca, &e) == CVM_E_CONFIG && strstr(e.msg, "cvmboot.ca is refused"),
	      "ca without opt-in: %s", e.msg);
	c.init_data_ca = true;
	CHECK(apply(&c, "\"cvmboot.ca\" = \"not a pem\"\n", &e) == CVM_E_CONFIG &&
	      strstr(e.msg, "no PEM certificate"), "bad ca: %s", e.msg);
	CHECK(apply(&c, ca, &e) == 0, "ca with opt-in: %s", e.msg);
	snprintf(path, sizeof(path), "%s/run/init-data-ca.pem", tmpdir);
	CHECK(!strcmp(c.ca_file, path) && access(path, R_OK) == 0, "ca_file %s", c.ca_file);

	c.seal_pcr = 8;
	CHECK(apply(&c, "", &e) == CVM_E_CONFIG && strstr(e.msg, "seal_pcr = 8 conflicts"), "%s", e.msg);
	init_data_free(c.init_doc);
	unlink(path);
	snprintf(path, sizeof(path), "%s/run", tmpdir);
	rmdir(path);
}

/* The keys: [tee] init_data / init_data_ca in the file, rd.cvmboot.init_data. */
static void test_config_keys(void)
{
	static struct config c;
	struct err e = { 0 };
	static const char good[] = "[tee]\ninit_data = /etc/cvmboot/init-data.toml\ninit_data_ca = true\n";
	static const char relative[] = "[tee]\ninit_data = init-data.toml\n";

	config_defaults(&c);
	CHECK(!c.init_data[0] && !c.init_data_ca && !c.init_doc, "defaults");
	CHECK(config_load_file(&c, write_file("k.conf", good, sizeof(good) - 1), true, &e) == 0, "%s", e.msg);
	CHECK(!strcmp(c.init_data, "/etc/cvmboot/init-data.toml") && c.init_data_ca, "file keys");
	config_defaults(&c);
	CHECK(config_load_file(&c, write_file("k.conf", relative, sizeof(relative) - 1), true, &e) &&
	      strstr(e.msg, "k.conf:2: [tee] init_data") && strstr(e.msg, "not an absolute path"),
	      "relative: %s", e.msg);
	config_defaults(&c);
	CHECK(config_apply_cmdline_string(&c, "quiet rd.cvmboot.init_data=/run/cfg/i.toml", &e) == 0 &&
	      !strcmp(c.init_data, "/run/cfg/i.toml"), "cmdline: %s", e.msg);
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.init_data=i.toml", &e) &&
	      strstr(e.msg, "rd.cvmboot.init_data: 'i.toml' is not an absolute path"), "%s", e.msg);
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.init_data_ca=1", &e) &&
	      strstr(e.msg, "unknown option rd.cvmboot.init_data_ca"), "init_data_ca: %s", e.msg);
	/* No document configured: nothing loaded, nothing changed. */
	config_defaults(&c);
	CHECK(config_apply_init_data(&c, &e) == 0 && !c.init_doc, "no init-data");
}

int main(void)
{
	static const char *const files[] = { "digest.toml", "big.toml", "empty.toml", "settings.toml",
					       "k.conf" };
	char path[600];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_accepts();
	test_refuses();
	test_digests();
	test_load_limits();
	test_settings();
	test_config_keys();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return check_report("init_data");
}
