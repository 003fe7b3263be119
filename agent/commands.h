/* The cvmboot subcommands. Each gets the merged configuration and its own
 * arguments (argv[0] is the subcommand name), logs its error once, and
 * returns the process exit code (enum cvm_exit). */
#ifndef CVMBOOT_COMMANDS_H
#define CVMBOOT_COMMANDS_H

#include "config.h"

int cmd_boot(struct config *cfg, int argc, char **argv);
int cmd_get_resource(struct config *cfg, int argc, char **argv);
int cmd_evidence(struct config *cfg, int argc, char **argv);
int cmd_detect(struct config *cfg, int argc, char **argv);
int cmd_enroll(struct config *cfg, int argc, char **argv);
int cmd_unlock(struct config *cfg, int argc, char **argv);
int cmd_reference_values(struct config *cfg, int argc, char **argv);
int cmd_tokens(struct config *cfg, int argc, char **argv);
int cmd_disenroll(struct config *cfg, int argc, char **argv);
int cmd_check_config(struct config *cfg, int argc, char **argv);

#endif
