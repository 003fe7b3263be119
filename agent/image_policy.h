/* The workload's signed-image gate: a containers policy.json (reject by
 * default, accept the workload image only when signed by the key the KBS
 * released) and a registries.d entry, written on tmpfs for podman pull. */
#ifndef CVMBOOT_IMAGE_POLICY_H
#define CVMBOOT_IMAGE_POLICY_H

#include <stddef.h>

#include "err.h"

#define IMAGE_POLICY_DIR "image-policy"        /* under [secrets] run_dir */
#define IMAGE_POLICY_KEY_MAX (64 * 1024)

enum image_key_type {
	IMAGE_KEY_GPG = 0,  /* OpenPGP public key: "signedBy", keyType GPGKeys */
	IMAGE_KEY_SIGSTORE, /* PEM public key (cosign): "sigstoreSigned" */
};

/* An image reference a policy can scope: fully qualified (the first
 * component is a registry: holds '.' or ':', or is "localhost"), of
 * [A-Za-z0-9._:/@-] only, no empty component. 0 if valid, else -1 and why. */
int image_policy_check_ref(const char *ref, char *why, size_t why_len);

/* What kind of public key data holds; refuses private keys and anything
 * else with a message saying what was found. */
int image_policy_key_type(const unsigned char *data, size_t len, enum image_key_type *type,
			  struct err *e);

/* The policy.json text (malloc'ed): reject everything but image's
 * repository, and that only when signed by the key at key_path. */
char *image_policy_json(const char *image, const char *key_path, enum image_key_type type,
			struct err *e);
/* The registries.d YAML for image: its lookaside URL (GPG; may be "" for
 * none, then NULL is returned without error) or sigstore attachments. */
char *image_policy_registries_yaml(const char *image, const char *lookaside,
				   enum image_key_type type, struct err *e);

/* Write run_dir/image-policy/{signing-key.gpg|signing-key.pub, policy.json,
 * registries.d/cvmboot.yaml}, each atomically with mode 0644 (public data). */
int image_policy_write(const char *run_dir, const char *image, const char *lookaside,
		       const unsigned char *key, size_t key_len, struct err *e);

#endif
