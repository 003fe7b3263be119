/* placeholder main until the CLI lands */
#include <stdio.h>
int main(void) { fputs("cvmboot: CLI not built yet\n", stderr); return 1; }
